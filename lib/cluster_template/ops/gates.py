"""Health gates: checks a multi-node operation must pass before and after touching a node.

Each gate polls until it passes or its deadline runs out, then raises `GateFailed` naming the
gate, the node it guarded and the last thing that was wrong. A tool or API error during the wait
(a controller rebooting, the API VIP moving) counts as "not yet", not as a failure.

Gates:
- `cluster_healthy`: `talosctl health` through a controller, with the node lists of nodes.yaml.
  talosctl asserts that *every* Kubernetes node is Ready and schedulable, so this gate can only
  pass while no node is intentionally down;
- `etcd_healthy`: the controllers agree about the etcd members, every controller is one (none a
  learner, no unknown member) and `etcd status` reports no errors on any of them;
- `at_target`: the node runs the target Talos version and Image Factory schematic;
- `kube_ready`: the node's Kubernetes Node is Ready;
- `others_ready`: every Kubernetes node except the ones being upgraded is Ready (the gate used
  between parallel worker upgrades, when `cluster_healthy` cannot pass by construction).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .. import heartbeat as heartbeat_module
from ..errors import ClusterTemplateError, CommandError
from ..tools.talosctl import Talosctl
from .etcd_view import etcd_view
from .nodes import ClusterNode, Inventory, normalise_version

# Seconds `talosctl health` may take in a dry run: enough for its checks to pass on a healthy
# cluster, far less than a gate's deadline (nothing a dry run does makes an unhealthy one heal).
DRY_RUN_HEALTH_WAIT = 10.0

# (passed, what is wrong when it did not)
Probe = Callable[[], tuple[bool, str]]
Say = Callable[[str], None]


class GateFailed(ClusterTemplateError):
    """A health gate did not pass before its deadline."""

    def __init__(self, gate: str, subject: str, detail: str, waited: float):
        self.gate = gate
        self.subject = subject
        self.detail = detail
        self.waited = waited
        super().__init__(f"gate '{gate}' ({subject}) failed after {waited:.0f}s: {detail}")


class NodeReader(Protocol):
    """What the gates need from the Kubernetes layer: the Node objects (NodeInfo-like: `name`,
    `ready`, `ready_reason`, `unschedulable`)."""

    def nodes(self) -> list[Any]: ...


def poll(probe: Probe, *, gate: str, subject: str, timeout: float, interval: float,
         on_wait: Say | None = None, heartbeat: float = heartbeat_module.DEFAULT_SECONDS) -> None:
    """Call `probe` until it passes; GateFailed with its last complaint after `timeout` seconds.
    `on_wait` hears every new complaint, and every `heartbeat` seconds how long it has waited."""
    started = time.monotonic()
    pulse = heartbeat_module.Heartbeat(f"{gate} ({subject})", on_wait, heartbeat) if on_wait else None
    last = ""
    while True:
        try:
            passed, detail = probe()
        except ClusterTemplateError as error:  # a tool or the API not answering: keep waiting
            passed, detail = False, _first_line(str(error))
        if passed:
            return
        waited = time.monotonic() - started
        if waited >= timeout:
            raise GateFailed(gate, subject, detail or last or "no answer", waited)
        if detail != last and on_wait is not None:
            on_wait(f"waiting for {gate}: {detail}")
        elif pulse is not None:
            pulse.beat(detail)
        last = detail
        time.sleep(min(interval, max(0.0, timeout - waited)))


class Gates:
    """The gates of one operation, sharing the clients, the deadline and the poll interval."""

    def __init__(self, inventory: Inventory, talos: Talosctl, kube: NodeReader | None, *,
                 timeout: float = 300.0, interval: float = 2.0):
        self.inventory = inventory
        self.talos = talos
        self.kube = kube
        self.timeout = timeout
        self.interval = interval
        self.heartbeat = getattr(talos.ex, "heartbeat", heartbeat_module.DEFAULT_SECONDS)

    def via(self, avoid: Iterable[str] = ()) -> ClusterNode:
        """The controller to ask cluster-wide questions through: the first one not being worked on."""
        avoiding = set(avoid)
        for controller in self.inventory.controllers:
            if controller.name not in avoiding:
                return controller
        return self.inventory.controllers[0]

    # -- cluster-wide --------------------------------------------------------------------------

    def cluster_healthy(self, subject: str, *, avoid: Iterable[str] = ()) -> None:
        """`talosctl health`, which polls until its checks pass or the gate's deadline; a dry run
        reports the state instead of waiting for it to change, so it gets `DRY_RUN_HEALTH_WAIT`."""
        controller = self.via(avoid)
        started = time.monotonic()
        wait = min(self.timeout, DRY_RUN_HEALTH_WAIT) if self.talos.ex.dry else self.timeout
        result = self.talos.health(
            controller.address, wait_timeout=f"{max(1, int(wait))}s", timeout=wait + 60,
            control_planes=[n.address for n in self.inventory.controllers],
            workers=[n.address for n in self.inventory.workers])
        if not result.ok:
            detail = self.talos.ex.redactor.redact(health_problem(result.stderr))
            raise GateFailed("cluster healthy", subject, detail, time.monotonic() - started)

    def etcd_healthy(self, subject: str, *, on_wait: Say | None = None) -> None:
        poll(self.etcd_state, gate="etcd healthy", subject=subject, timeout=self.timeout,
             interval=self.interval, on_wait=on_wait, heartbeat=self.heartbeat)

    def etcd_state(self) -> tuple[bool, str]:
        """Asks every controller (not one `via`): the node being upgraded may be down, and only
        comparing their member lists shows a controller running an etcd of its own."""
        controllers = {node.name: node for node in self.inventory.controllers}
        try:
            view = etcd_view(self.talos, list(controllers.values()))
        except CommandError as error:
            return False, f"etcd members: {_last_line(error.stderr_tail) or error}"
        if disagreeing := view.disagreeing():
            return False, "controllers disagree about the etcd members (a split brain?): " + "; ".join(
                f"{name} lists {', '.join(sorted(seen))}" for name, seen in sorted(disagreeing.items()))
        names = view.members
        missing = sorted(set(controllers) - set(names))
        if missing:
            return False, f"not etcd members: {', '.join(missing)}"
        unknown = sorted(set(names) - set(controllers))
        if unknown:
            return False, f"etcd members not in nodes.yaml: {', '.join(unknown)}"
        learners = sorted(name for name, row in names.items() if row.get("learner") == "true")
        if learners:
            return False, f"still etcd learners: {', '.join(learners)}"
        try:
            rows = self.talos.etcd_status(",".join(node.address for node in controllers.values()))
        except CommandError as error:
            return False, f"etcd status: {_last_line(error.stderr_tail) or error}"
        answered = {row.get("node", ""): row for row in rows}
        problems = []
        for node in controllers.values():
            row = answered.get(node.address)
            if row is None:
                problems.append(f"{node.name} did not answer etcd status")
            elif row.get("errors"):
                problems.append(f"{node.name}: {row['errors']}")
        return (not problems), "; ".join(problems)

    def others_ready(self, subject: str, exclude: Iterable[str], *, on_wait: Say | None = None) -> None:
        skipped = set(exclude)

        def probe() -> tuple[bool, str]:
            if self.kube is None:
                return True, ""
            known = {info.name: info for info in self.kube.nodes()}
            problems = []
            for node in self.inventory.nodes:
                if node.name in skipped:
                    continue
                info = known.get(node.name)
                if info is None:
                    problems.append(f"{node.name} is not registered")
                elif not info.ready:
                    problems.append(f"{node.name} NotReady ({info.ready_reason or 'no reason given'})")
            return (not problems), "; ".join(problems)

        poll(probe, gate="other nodes Ready", subject=subject, timeout=self.timeout, interval=self.interval,
             on_wait=on_wait, heartbeat=self.heartbeat)

    # -- one node ------------------------------------------------------------------------------

    def node_version(self, node: ClusterNode) -> tuple[str | None, str | None]:
        """(Talos version, schematic) the node reports; (None, None) when it does not answer. The
        schematic is None for a node installed from an image without one (not from the Image
        Factory); a failure to read it raises CommandError, so it is never taken for that."""
        version = normalise_version(self.talos.server_version(node.address))
        if version is None:
            return None, None
        return version, self.talos.schematic(node.address)

    def at_target_now(self, node: ClusterNode) -> tuple[bool, str]:
        version, schematic = self.node_version(node)
        if version is None:
            return False, f"{node.name} does not answer on the Talos API"
        if version != node.target_version:
            return False, f"{node.name} runs {version}, target {node.target_version}"
        if node.target_schematic and schematic != node.target_schematic:
            return False, f"{node.name} runs schematic {_short(schematic)}, target {_short(node.target_schematic)}"
        return True, ""

    def at_target(self, node: ClusterNode, *, on_wait: Say | None = None) -> None:
        poll(lambda: self.at_target_now(node), gate="node at target version", subject=node.name,
             timeout=self.timeout, interval=self.interval, on_wait=on_wait,
             heartbeat=self.heartbeat)

    def kube_ready_now(self, node: ClusterNode) -> tuple[bool, str]:
        if self.kube is None:
            return True, ""
        info = next((item for item in self.kube.nodes() if item.name == node.name), None)
        if info is None:
            return False, f"Kubernetes node {node.name} is not registered"
        if not info.ready:
            return False, f"Kubernetes node {node.name} is NotReady ({info.ready_reason or 'no reason given'})"
        return True, ""

    def kube_ready(self, node: ClusterNode, *, on_wait: Say | None = None) -> None:
        poll(lambda: self.kube_ready_now(node), gate="Kubernetes node Ready", subject=node.name,
             timeout=self.timeout, interval=self.interval, on_wait=on_wait,
             heartbeat=self.heartbeat)


def health_problem(stderr: str) -> str:
    """What `talosctl health` was waiting for when it gave up: the last `waiting for X: ...` line
    that is not progress, with the error lines that follow it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.startswith("waiting for ") and not line.endswith((": OK", ": ...")):
            return " ".join(lines[index:])
    return " ".join(lines[-3:]) or "talosctl health failed without a message"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _short(schematic: str | None) -> str:
    return schematic[:12] + "…" if schematic else "unknown"
