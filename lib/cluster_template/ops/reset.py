"""`inv talos.reset`: put nodes back into maintenance mode, as the seed's talos:reset did.

Each node gets `talosctl reset --graceful=false --reboot --wait=false`, sent to the node itself (its
own endpoint, so resetting one controller does not cut off the requests for the next). Without
`force` only the STATE and EPHEMERAL partitions are wiped (the machine config and the node's data;
the installed Talos stays); with `force` the whole system disk is wiped. Workers go first and
controllers last, so the control plane answers for as long as possible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import ClusterTemplateError, CommandError
from ..tools.talosctl import Talosctl
from .nodes import ClusterNode

PARTIAL_WIPE = ("STATE", "EPHEMERAL")


class ResetFailed(ClusterTemplateError):
    """At least one node refused or did not receive the reset."""


@dataclass
class ResetResult:
    reset: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wipe_labels: tuple[str, ...] = ()


def wipe_labels(force: bool) -> tuple[str, ...]:
    return () if force else PARTIAL_WIPE


def reset_nodes(talos: Talosctl, nodes: Sequence[ClusterNode], *, force: bool = False,
                progress: Callable[[str, str], None] | None = None) -> ResetResult:
    """Reset every node (workers first); a failure on one node does not stop the others, and
    ResetFailed lists every failure at the end."""
    say = progress or (lambda _subject, _message: None)
    labels = wipe_labels(force)
    result = ResetResult(wipe_labels=labels)
    ordered = [node for node in nodes if not node.controller] + [node for node in nodes if node.controller]
    what = "the whole system disk" if force else " and ".join(labels)
    for node in ordered:
        say(node.name, f"reset ({'would wipe' if talos.ex.dry else 'wiping'} {what})")
        try:
            talos.reset(node.address, wipe_labels=labels, graceful=False, reboot=True, direct=True)
        except CommandError as error:
            result.failed[node.name] = str(error)
            say(node.name, f"FAILED: {error}")
            continue
        result.reset.append(node.name)
    if result.failed:
        raise ResetFailed("reset failed on " + ", ".join(result.failed) + ":\n"
                          + "\n".join(f"  {name}: {error}" for name, error in result.failed.items()))
    return result
