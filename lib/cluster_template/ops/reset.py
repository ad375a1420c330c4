"""`inv talos.reset`: put nodes back into maintenance mode.

Without `force` only the STATE and EPHEMERAL partitions are wiped (the machine config and the
node's data; the installed Talos stays); with `force` the whole system disk is wiped. Every request
goes to the node itself (its own endpoint, so resetting one controller does not cut off the
requests for the next).

- The whole cluster: `talosctl reset --graceful=false --reboot --wait=false` on every node, workers
  first and controllers last, so the control plane answers for as long as possible. Nothing is
  drained and etcd is not left: the cluster is being destroyed.
- One node of a cluster that lives on: a graceful reset (Talos cordons and drains it and, for a
  controller, removes its etcd member), waited for, then its Kubernetes Node object is deleted.
  Without the graceful leave the wiped controller's member stays, and a 3-member etcd keeps no
  fault tolerance. A controller is refused when the other members could not keep quorum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ClusterTemplateError, CommandError
from ..tools.talosctl import Talosctl, last_error_line
from .nodes import ClusterNode

PARTIAL_WIPE = ("STATE", "EPHEMERAL")
# talosctl reset --wait --timeout for one node: drain, etcd leave, wipe and reboot.
SINGLE_NODE_TIMEOUT = "15m"


class ResetFailed(ClusterTemplateError):
    """At least one node refused or did not receive the reset."""


class ResetRefused(ClusterTemplateError):
    """Resetting this node alone would break the cluster (etcd quorum); nothing was changed."""


class NodeDeleter(Protocol):
    def delete_node(self, name: str) -> bool: ...


@dataclass
class ResetResult:
    reset: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wipe_labels: tuple[str, ...] = ()
    graceful: bool = False
    deleted_nodes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def wipe_labels(force: bool) -> tuple[str, ...]:
    return () if force else PARTIAL_WIPE


def _say(progress: Callable[[str, str], None] | None) -> Callable[[str, str], None]:
    return progress or (lambda _subject, _message: None)


def reset_nodes(talos: Talosctl, nodes: Sequence[ClusterNode], *, force: bool = False,
                progress: Callable[[str, str], None] | None = None) -> ResetResult:
    """Reset every node of the cluster (workers first); a failure on one node does not stop the
    others, and ResetFailed lists every failure at the end."""
    say = _say(progress)
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


def reset_one_node(talos: Talosctl, node: ClusterNode, controllers: Sequence[ClusterNode], *, force: bool = False,
                   kube: NodeDeleter | None = None, progress: Callable[[str, str], None] | None = None) -> ResetResult:
    """Reset one node of a cluster that keeps running: gracefully (drain, etcd leave), refused for
    a controller whose departure would cost etcd its quorum, then its Node object is deleted."""
    say = _say(progress)
    if node.controller:
        problem = etcd_quorum_problem(talos, controllers, node)
        if problem:
            raise ResetRefused(f"not resetting {node.name}: {problem}; nothing was changed")
    labels = wipe_labels(force)
    result = ResetResult(wipe_labels=labels, graceful=True)
    what = "the whole system disk" if force else " and ".join(labels)
    leave = ", leave etcd" if node.controller else ""
    say(node.name, f"graceful reset (drain{leave}, {'would wipe' if talos.ex.dry else 'wiping'} {what})")
    try:
        talos.reset(node.address, wipe_labels=labels, graceful=True, reboot=True, direct=True, wait=True,
                    timeout=SINGLE_NODE_TIMEOUT)
    except CommandError as error:
        raise ResetFailed(f"reset failed on {node.name}: {error}") from None
    result.reset.append(node.name)
    if kube is not None:
        try:
            if kube.delete_node(node.name):
                result.deleted_nodes.append(node.name)
        except ClusterTemplateError as error:
            result.warnings.append(f"the Kubernetes Node {node.name} was not deleted ({error}); delete it with "
                                   f"`kubectl delete node {node.name}`")
    return result


def etcd_quorum_problem(talos: Talosctl, controllers: Sequence[ClusterNode], leaving: ClusterNode) -> str | None:
    """Why removing `leaving`'s etcd member would leave etcd without quorum, or None when the
    remaining members keep a healthy majority. Asked through the other controllers."""
    others = [node for node in controllers if node.name != leaving.name]
    if not others:
        return (f"{leaving.name} is the only controller: resetting it destroys etcd and the cluster "
                "(`inv talos.reset` without --node resets every node deliberately)")
    members: list[dict[str, Any]] | None = None
    errors = []
    for other in others:
        try:
            members = talos.etcd_members(other.address)
            break
        except CommandError as error:
            errors.append(f"{other.name}: {last_error_line(error.stderr_tail) or error}")
    if members is None:
        return "no other controller answers `etcd members`, so it cannot be told whether etcd keeps quorum (" \
               + "; ".join(errors) + ")"
    names = {str(row.get("hostname", "")) for row in members}
    if leaving.name not in names:
        return None
    remaining = names - {leaving.name}
    if not remaining:
        return f"{leaving.name} is the only etcd member: resetting it destroys etcd and the cluster"
    by_name = {node.name: node for node in controllers}
    asked = [by_name[name].address for name in sorted(remaining) if name in by_name]
    healthy: set[str] = set()
    if asked:
        try:
            rows = talos.etcd_status(",".join(asked))
        except CommandError:
            rows = []
        by_address = {node.address: node.name for node in controllers}
        healthy = {by_address[row["node"]] for row in rows if row.get("node") in by_address and not row.get("errors")}
    healthy &= remaining
    if len(healthy) * 2 <= len(remaining):
        unhealthy = ", ".join(sorted(remaining - healthy))
        return (f"etcd would lose quorum: once it leaves, {len(healthy)} of the {len(remaining)} remaining members "
                f"are healthy (not healthy: {unhealthy}); bring those back first")
    return None
