"""Talos upgrades with health gates: one node (`inv talos.upgrade-node`) or the whole cluster,
rolling (`inv talos.upgrade`).

The target of every node is its installer image in the rendered talconfig
(`<talosImageURL>:<talosVersion>`): a node is outdated when the Talos version or the Image Factory
schematic it reports differs. One node's upgrade is:

    gate before -> cordon + drain -> talosctl upgrade --wait -> gates after -> uncordon

with "gate before" = the cluster is healthy (`talosctl health` through a controller) and, for a
controller, etcd has every member healthy; and "gates after" = the node reports the target version
and schematic (an A/B rollback to the old version fails here), its Kubernetes node is Ready and,
for a controller, etcd is healthy again. Every gate has a deadline.

The rolling upgrade first checks every node and reports all problems at once before touching any.
Controllers go strictly one at a time; then the workers, up to `max_parallel` in flight (a thread
pool), never overlapping with a controller. `talosctl health` asserts that every Kubernetes node is
Ready and schedulable, so it can only pass while no node is down: a worker started while others
are in flight is gated on etcd health plus every *other* node being Ready instead (see `gates`).
Nodes an earlier run left in progress count as down until this run has finished them, so a fresh
worker is never gated on their being schedulable. The run stops at the first failed gate (nodes
already in flight finish their own upgrade) with a message that names the gate and the command that
continues.

A journal (`.inv/journal/talos-upgrade.json`) records each node's progress. A re-run towards the
same target skips nodes that are done *and* verified at the target, verifies a node left
`in-progress` (it may be rebooting into the new version) before doing anything to it, and never
upgrades a node that already runs the target.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ClusterTemplateError, CommandError
from ..tools.talosctl import Talosctl
from .etcd_view import etcd_view
from .gates import GateFailed, Gates, poll
from .journal import DONE, IN_PROGRESS, PENDING, Journal
from .nodes import ClusterNode, Inventory

# (subject, message): subject is a node name, or "cluster" for cluster-wide steps.
Progress = Callable[[str, str], None]
CLUSTER = "cluster"
JOURNAL_NAME = "talos-upgrade"


class NodeControl(Protocol):
    """What an upgrade needs from the Kubernetes layer (`cluster.Kube` provides it)."""

    def nodes(self) -> list[Any]: ...

    def cordon(self, node: str) -> bool: ...

    def uncordon(self, node: str) -> bool: ...

    def drain(self, node: str, *, timeout: float = ..., poll: float = ...,
              progress: Callable[[str], None] | None = ...) -> list[str]: ...


class UpgradeBlocked(ClusterTemplateError):
    """The checks before a rolling upgrade found problems; nothing was changed."""


class UpgradeStopped(ClusterTemplateError):
    """A gate or a step failed during an upgrade; the message says what and how to continue."""


@dataclass(frozen=True)
class UpgradeOptions:
    max_parallel: int = 1
    drain_timeout: float = 300.0
    gate_timeout: float = 300.0
    upgrade_timeout: str = "10m"
    poll_interval: float = 2.0
    # The command that continues an interrupted run, quoted in failure messages.
    resume_command: str = "inv talos.upgrade"


@dataclass(frozen=True)
class NodeCheck:
    """What the node reported before the run, and what the journal says about it."""

    node: ClusterNode
    version: str | None
    schematic: str | None
    journal_state: str = PENDING
    problems: tuple[str, ...] = ()

    @property
    def at_target(self) -> bool:
        return self.version == self.node.target_version and (
            not self.node.target_schematic or self.schematic == self.node.target_schematic)

    @property
    def resuming(self) -> bool:
        return self.journal_state == IN_PROGRESS

    @property
    def needs_work(self) -> bool:
        return self.resuming or not self.at_target

    def describe(self) -> str:
        current = self.version or "unknown version"
        if self.resuming:
            return f"{self.node.describe()}: left in progress by an earlier run ({current}); will be verified"
        if self.at_target:
            return f"{self.node.describe()}: at {self.node.target_version}"
        source = _short(self.schematic) if self.schematic else "none (not an Image Factory image)"
        change = (f"{current} -> {self.node.target_version}" if self.version != self.node.target_version
                  else f"schematic {source} -> {_short(self.node.target_schematic)}")
        return f"{self.node.describe()}: {change}"


@dataclass
class UpgradePlan:
    checks: list[NodeCheck]
    problems: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def pending(self) -> list[NodeCheck]:
        return [check for check in self.checks if check.needs_work]

    @property
    def current(self) -> list[NodeCheck]:
        return [check for check in self.checks if not check.needs_work]


@dataclass
class UpgradeResult:
    upgraded: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # found at the target after an interrupted run
    skipped: list[str] = field(default_factory=list)  # already at the target


class NullJournal:
    """Stands in for a Journal when a single node is upgraded: nothing is recorded."""

    def state(self, node: str) -> str:
        return PENDING

    def mark(self, node: str, state: str, **_facts: Any) -> None:
        return None


class Upgrader:
    """Upgrades nodes of one inventory; `plan()` checks, `run(plan)` acts (never in dry mode)."""

    def __init__(self, inventory: Inventory, talos: Talosctl, kube: NodeControl, *,
                 journal: Journal | None = None, options: UpgradeOptions = UpgradeOptions(),
                 progress: Progress | None = None):
        self.inventory = inventory
        self.talos = talos
        self.kube = kube
        self.journal: Journal | NullJournal = journal or NullJournal()
        self.options = options
        self.gates = Gates(inventory, talos, kube, timeout=options.gate_timeout, interval=options.poll_interval)
        self._progress = progress or (lambda _subject, _message: None)
        # Held while a node is gated and put in flight, so every gate sees a stable set of nodes
        # in flight; `_state` guards the shared bookkeeping and is only held for a moment.
        self._start_lock = threading.Lock()
        self._state = threading.Lock()
        self._in_flight: set[str] = set()
        # Nodes an earlier run left in progress (cordoned, maybe rebooting) and this run has not
        # finished yet: down from the start, so no fresh node is gated on them being schedulable.
        self._resuming: set[str] = set()
        self._stop = threading.Event()
        self._failure: str | None = None
        self._result = UpgradeResult()

    def say(self, subject: str, message: str) -> None:
        self._progress(subject, message)

    # -- checks ----------------------------------------------------------------------------------

    def check_node(self, node: ClusterNode) -> NodeCheck:
        state = self.journal.state(node.name)
        problems = []
        try:
            version, schematic = self.gates.node_version(node)
        except ClusterTemplateError as error:
            version, schematic = None, None
            problems.append(f"{node.describe()}: {error}")
        if version is None and state != IN_PROGRESS and not problems:
            problems.append(f"{node.describe()}: does not answer on the Talos API")
        elif version is not None and (step := intermediate_minor(version, node.target_version)):
            repository = node.image.rpartition(":")[0] or node.image
            problems.append(f"{node.describe()}: runs {version}; Talos upgrades one minor release at a time, so "
                            f"{node.target_version} is out of reach: first upgrade it to the latest {step} patch "
                            f"(`talosctl -n {node.address} upgrade --image {repository}:{step}.<patch>`), then "
                            "re-run")
        return NodeCheck(node, version, schematic, state, tuple(problems))

    def plan(self) -> UpgradePlan:
        """Check every node (in parallel) and the cluster; collect every problem, change nothing."""
        targets = list(self.inventory.nodes)
        with ThreadPoolExecutor(max_workers=min(8, len(targets) or 1)) as pool:
            checks = list(pool.map(self.check_node, targets))
        plan = UpgradePlan(checks)
        for check in checks:
            plan.problems += check.problems
        resuming = {check.node.name for check in checks if check.resuming}
        plan.problems += self._kubernetes_problems(resuming)
        if not resuming:
            problem = self._probe(self.gates.etcd_state, "etcd")
            if problem:
                plan.problems.append(problem)
        if any(check.node.controller for check in plan.pending):
            plan.problems += self._etcd_quorum_problems()
        if not plan.problems and not resuming and plan.pending:
            try:
                self.gates.cluster_healthy("before the upgrade")
            except GateFailed as failure:
                plan.problems.append(f"cluster not healthy: {failure.detail}")
        return plan

    def _kubernetes_problems(self, resuming: set[str]) -> list[str]:
        try:
            known = {info.name: info for info in self.kube.nodes()}
        except ClusterTemplateError as error:
            return [f"Kubernetes API: {error}"]
        problems = []
        for node in self.inventory.nodes:
            info = known.get(node.name)
            if node.name in resuming:
                continue
            if info is None:
                problems.append(f"{node.describe()}: not registered in Kubernetes")
            elif not info.ready:
                problems.append(f"{node.describe()}: Kubernetes node NotReady ({info.ready_reason or 'no reason'})")
            elif info.unschedulable:
                problems.append(f"{node.describe()}: cordoned outside an upgrade; uncordon it "
                                f"(kubectl uncordon {node.name}) if that is not deliberate")
        return problems

    def _etcd_quorum_problems(self) -> list[str]:
        """Talos refuses to upgrade a controller of a 2-member etcd (one member down loses quorum),
        which would leave the drained controller cordoned: say so before anything is touched."""
        try:
            members = etcd_view(self.talos, self.inventory.controllers).members
        except CommandError:
            return []  # the etcd gate reports an etcd that does not answer
        if len(members) != 2:
            return []
        names = ", ".join(sorted(members))
        return [f"etcd has 2 members ({names}): Talos refuses to upgrade a controller, since one member down loses "
                "quorum; add a third controller (or run one) before upgrading"]

    @staticmethod
    def _probe(probe: Callable[[], tuple[bool, str]], label: str) -> str | None:
        try:
            passed, detail = probe()
        except ClusterTemplateError as error:
            return f"{label}: {error}"
        return None if passed else f"{label}: {detail}"

    # -- the rolling upgrade ---------------------------------------------------------------------

    def run(self, plan: UpgradePlan) -> UpgradeResult:
        """Upgrade every node the plan found outdated (or left in progress): controllers one at a
        time, then workers with up to `max_parallel` in flight; a final cluster health gate."""
        if plan.problems:
            raise UpgradeBlocked("nothing was changed; fix these first:\n" + "\n".join(f"  {p}" for p in plan.problems))
        self._result.skipped = [check.node.name for check in plan.current]
        if self.talos.ex.dry:  # a plan is all a dry run produces
            return self._result
        pending = plan.pending
        self._resuming = {check.node.name for check in pending if check.resuming}
        controllers = _resumed_first([c for c in pending if c.node.controller])
        workers = _resumed_first([c for c in pending if not c.node.controller])
        for check in controllers:
            self._start(check)
            if self._stop.is_set():
                break
        if workers and not self._stop.is_set():
            self._run_workers(workers)
        if self._failure is not None:
            raise UpgradeStopped(self._stopped_message(plan))
        if self._result.upgraded or self._result.verified:
            self.say(CLUSTER, "all nodes at the target; checking the cluster health")
            try:
                self.gates.cluster_healthy("after the upgrade")
            except GateFailed as failure:
                self._failure = str(failure)
                raise UpgradeStopped(self._stopped_message(plan)) from None
        return self._result

    def _run_workers(self, workers: list[NodeCheck]) -> None:
        slots = max(1, self.options.max_parallel)
        with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="upgrade") as pool:
            futures = [pool.submit(self._start, check) for check in workers]
            for future in futures:
                future.result()

    def _start(self, check: NodeCheck) -> None:
        """Gate, then upgrade one node; any failure stops the run (recorded, not raised, so the
        other threads finish the nodes they have in flight)."""
        node = check.node
        try:
            with self._start_lock:
                if self._stop.is_set():
                    return
                if check.resuming and self._verify_resumed(node):
                    return
                self._gate_before(node, resuming=check.resuming)
                with self._state:
                    self._in_flight.add(node.name)
            try:
                self._upgrade(node)
            finally:
                with self._state:
                    self._in_flight.discard(node.name)
        except ClusterTemplateError as error:
            self._fail(node, error)
        finally:
            with self._state:
                self._resuming.discard(node.name)

    def _fail(self, node: ClusterNode, error: Exception) -> None:
        with self._state:
            if self._failure is None:
                self._failure = f"{node.name}: {error}"
            self._stop.set()
        self.say(node.name, f"FAILED: {error}")

    def _verify_resumed(self, node: ClusterNode) -> bool:
        """A node an earlier run left in progress: wait for it to answer, and when it already runs
        the target finish it (gates after, uncordon) without upgrading again. Returns whether it
        was finished that way."""
        say = self._say_for(node)
        say("left in progress by an earlier run; waiting for it to answer")
        poll(lambda: self._answers(node), gate="node answers on the Talos API", subject=node.name,
             timeout=self.options.gate_timeout, interval=self.options.poll_interval, on_wait=say,
             heartbeat=self.gates.heartbeat)
        passed, detail = self.gates.at_target_now(node)
        if not passed:
            say(f"{detail}: the earlier upgrade did not take effect; upgrading")
            return False
        say(f"already runs {node.target_version}; verifying")
        self._gates_after(node)
        self._finish(node, verified=True)
        return True

    def _answers(self, node: ClusterNode) -> tuple[bool, str]:
        version = self.talos.server_version(node.address)
        return version is not None, f"{node.name} does not answer yet"

    def _gate_before(self, node: ClusterNode, *, resuming: bool) -> None:
        say = self._say_for(node)
        with self._state:
            down = set(self._in_flight) | self._resuming | ({node.name} if resuming else set())
        if down:
            say(f"gate: other nodes Ready (in flight: {', '.join(sorted(down))}) and etcd healthy")
            self.gates.others_ready(node.name, down, on_wait=say)
            self.gates.etcd_healthy(node.name, on_wait=say)
        else:
            say("gate: cluster healthy")
            self.gates.cluster_healthy(f"before upgrading {node.name}", avoid=[node.name])
            if node.controller:
                say("gate: etcd healthy")
                self.gates.etcd_healthy(node.name, on_wait=say)

    def _upgrade(self, node: ClusterNode) -> None:
        say = self._say_for(node)
        self.journal.mark(node.name, IN_PROGRESS, step="drain", image=node.image)
        say(f"cordon and drain (timeout {self.options.drain_timeout:g}s)")
        try:
            self.kube.drain(node.name, timeout=self.options.drain_timeout, poll=self.options.poll_interval,
                            progress=say)
        except ClusterTemplateError as error:
            # Nothing was upgraded: make the node schedulable again and leave it to the next run.
            self._uncordon_quietly(node)
            self.journal.mark(node.name, PENDING, step="drain", error=str(error))
            raise UpgradeStopped(f"drain failed: {error} (raise --drain-timeout, or check the "
                                 "PodDisruptionBudgets of the pods named)") from None
        self.journal.mark(node.name, IN_PROGRESS, step="upgrade")
        say(f"upgrade to {node.image}")
        boot_before = self.talos.boot_id(node.address)
        try:
            self.talos.upgrade(node.address, node.image, timeout=self.options.upgrade_timeout)
        except CommandError as error:
            if self._refused_before_reboot(node, boot_before):
                # Talos refused (installer image, upgrade mutex, etcd quorum): the node never went
                # down, so it must not stay cordoned and drained, or every re-run fails its gate.
                self._uncordon_quietly(node)
                self.journal.mark(node.name, PENDING, step="upgrade", error=str(error))
                raise UpgradeStopped(f"talosctl upgrade failed before the node rebooted (it was uncordoned "
                                     f"again): {error}") from None
            self.journal.mark(node.name, IN_PROGRESS, step="upgrade", error=str(error))
            raise UpgradeStopped(f"talosctl upgrade failed: {error}") from None
        self.journal.mark(node.name, IN_PROGRESS, step="verify")
        self._gates_after(node)
        self._finish(node, verified=False)

    def _refused_before_reboot(self, node: ClusterNode, boot_before: str | None) -> bool:
        """The same boot as before `talosctl upgrade`, the node running and still on its old
        version: the upgrade never started. Anything else (no answer, a new boot ID, a stage such
        as upgrading) may be an upgrade under way, and the node stays cordoned."""
        if boot_before is None or self.talos.boot_id(node.address) != boot_before:
            return False
        stage = self.talos.probe_stage(node.address)
        try:
            return stage.stage == "running" and not self.gates.at_target_now(node)[0]
        except CommandError:
            return False

    def _gates_after(self, node: ClusterNode) -> None:
        say = self._say_for(node)
        say(f"gate: reports {node.target_version}")
        self.gates.at_target(node, on_wait=say)
        say("gate: Kubernetes node Ready")
        self.gates.kube_ready(node, on_wait=say)
        if node.controller:
            say("gate: etcd healthy")
            self.gates.etcd_healthy(node.name, on_wait=say)

    def _finish(self, node: ClusterNode, *, verified: bool) -> None:
        self.kube.uncordon(node.name)
        self.journal.mark(node.name, DONE, step="done")
        with self._state:
            (self._result.verified if verified else self._result.upgraded).append(node.name)
        self.say(node.name, f"done: {node.target_version}")

    def _uncordon_quietly(self, node: ClusterNode) -> None:
        try:
            self.kube.uncordon(node.name)
        except ClusterTemplateError:
            pass

    def _say_for(self, node: ClusterNode) -> Callable[[str], None]:
        return lambda message: self.say(node.name, message)

    def _stopped_message(self, plan: UpgradePlan) -> str:
        finished = set(self._result.upgraded) | set(self._result.verified) | set(self._result.skipped)
        remaining = [check.node.name for check in plan.checks if check.node.name not in finished]
        lines = [f"upgrade stopped: {self._failure}"]
        if self._result.upgraded or self._result.verified:
            lines.append(f"upgraded in this run: {', '.join(self._result.upgraded + self._result.verified)}")
        if remaining:
            lines.append(f"not upgraded yet: {', '.join(remaining)}")
        journal = getattr(self.journal, "relative", None)
        where = f" (journal: {journal})" if journal else ""
        lines.append(f"Fix the cause, then run `{self.options.resume_command}` again: it continues where this run "
                     f"stopped{where} and upgrades no node twice.")
        return "\n".join(lines)

    # -- one node ---------------------------------------------------------------------------------

    def upgrade_one(self, node: ClusterNode) -> NodeCheck:
        """`inv talos.upgrade-node`: upgrade one node with the gates before and after, unless it
        already runs the target (then nothing is done). Returns what the node reported first; in
        dry mode only the check is made."""
        check = self.check_node(node)
        if check.problems:
            raise UpgradeBlocked("; ".join(check.problems))
        if check.at_target or self.talos.ex.dry:
            return check
        if node.controller and (problems := self._etcd_quorum_problems()):
            raise UpgradeBlocked("; ".join(problems))
        try:
            self._gate_before(node, resuming=False)
            self._upgrade(node)
        except (UpgradeStopped, GateFailed) as error:
            raise UpgradeStopped(f"{node.name}: {error}\nFix the cause, then run `{self.options.resume_command}` "
                                 "again.") from None
        return check


def intermediate_minor(current: str, target: str) -> str | None:
    """The first minor release between `current` and `target` (`v1.10.7`, `v1.12.1` -> `v1.11`),
    or None when the upgrade skips none. Talos supports upgrades to the next minor release only."""
    def minor(version: str) -> tuple[int, int] | None:
        match = re.match(r"^v?(\d+)\.(\d+)\.", version)
        return (int(match[1]), int(match[2])) if match else None

    have, want = minor(current), minor(target)
    if have is None or want is None or have[0] != want[0] or want[1] - have[1] <= 1:
        return None
    return f"v{have[0]}.{have[1] + 1}"


def journal_target(inventory: Inventory) -> dict[str, Any]:
    """What a journal is about: the same target images continue a run, any change starts afresh."""
    return {"talos_version": inventory.talos_version,
            "images": {node.name: node.image for node in inventory.nodes}}


def _resumed_first(checks: list[NodeCheck]) -> list[NodeCheck]:
    return [c for c in checks if c.resuming] + [c for c in checks if not c.resuming]


def _short(schematic: str | None) -> str:
    return schematic[:12] + "…" if schematic else "unknown"
