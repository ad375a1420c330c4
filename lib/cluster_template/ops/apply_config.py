"""`inv talos.apply-node`: apply a node's generated machine config to the running node.

A dry run (`inv --dry talos.apply-node`) asks the node itself: `talosctl apply-config --dry-run`
changes nothing and reports how the config would be applied (with or without a reboot) and the
diff against the config the node runs, which is what is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ClusterTemplateError
from ..talos.redaction import mask_secret_lines
from ..tools.talosctl import Talosctl
from .nodes import ClusterFilesMissing, ClusterNode
from .talos_config import register_talos_secrets

APPLY_MODES = ("auto", "no-reboot", "reboot", "staged", "try")


class InvalidMode(ClusterTemplateError):
    """--mode is not one talosctl apply-config accepts."""


@dataclass(frozen=True)
class ApplyResult:
    node: ClusterNode
    mode: str
    dry: bool
    report: str  # what talosctl said (the dry-run summary and diff, or how it applied the config)


def check_mode(mode: str) -> str:
    if mode not in APPLY_MODES:
        raise InvalidMode(f"--mode {mode!r} is not one of {', '.join(APPLY_MODES)}")
    return mode


def apply_node(root: Path, talos: Talosctl, node: ClusterNode, *, mode: str = "auto") -> ApplyResult:
    """Apply (or, when the executor is dry, dry-run) the node's machine config.

    The dry-run diff has unredacted context lines (private keys, tokens next to an ordinary edit):
    the bundle's secrets are registered before talosctl runs, and secret-named lines are masked."""
    check_mode(mode)
    config = node.machine_config
    if config is None or not config.is_file():
        raise ClusterFilesMissing(f"no machine config for {node.name} ({config}); run `inv talos.generate-config`")
    register_talos_secrets(root, talos.ex, [config])
    dry = talos.ex.dry
    result = talos.apply_config(node.address, config, mode=mode, dry_run=dry)
    # talosctl prints its summary on stderr; keep both streams, in that order.
    report = "\n".join(part.rstrip() for part in (result.stderr, result.stdout) if part.strip())
    return ApplyResult(node, mode, dry, mask_secret_lines(talos.ex.redactor.redact(report)))
