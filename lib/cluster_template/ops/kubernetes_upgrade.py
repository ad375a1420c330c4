"""`inv talos.upgrade-k8s`: move the control plane and kubelets to the pinned Kubernetes version.

talosctl does the work (`upgrade-k8s --to <kubernetesVersion>` through the first controller, as the
seed did); this adds a gate before (the cluster is healthy) and after (healthy again). A dry run
uses talosctl's own `--dry-run`, which shows the plan without changing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CommandError
from ..tools.talosctl import Talosctl
from .gates import Gates
from .nodes import Inventory
from .upgrade import UpgradeStopped


@dataclass(frozen=True)
class KubernetesUpgrade:
    target: str
    via: str  # the controller talosctl went through
    dry: bool
    report: str  # talosctl's account of what it did (or would do)


def upgrade_kubernetes(inventory: Inventory, talos: Talosctl, gates: Gates, *,
                       progress: Callable[[str], None] | None = None) -> KubernetesUpgrade:
    say = progress or (lambda _message: None)
    via = inventory.controllers[0]
    target = inventory.kubernetes_version
    dry = talos.ex.dry
    say(f"gate: cluster healthy (through {via.name})")
    gates.cluster_healthy("before the Kubernetes upgrade")
    say(f"{'dry run of' if dry else 'upgrading'} Kubernetes to v{target.lstrip('v')} through {via.name}")
    try:
        result = talos.upgrade_k8s(via.address, target, dry_run=dry)
    except CommandError as error:
        raise UpgradeStopped(f"talosctl upgrade-k8s failed: {error}\nFix the cause, then run "
                             "`inv talos.upgrade-k8s` again: talosctl skips what is already upgraded.") from None
    report = "\n".join(part.rstrip() for part in (result.stdout, result.stderr) if part.strip())
    if not dry:
        say("gate: cluster healthy after the upgrade")
        gates.cluster_healthy("after the Kubernetes upgrade")
    return KubernetesUpgrade(target, via.name, dry, talos.ex.redactor.redact(report))
