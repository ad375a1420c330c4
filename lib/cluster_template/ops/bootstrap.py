"""`inv bootstrap.*`: turn configured machines into a running cluster that Flux manages.

Two stages, each safe to re-run after any interruption, because every step asks the cluster what
is already done before it acts:

- `bootstrap_talos`: machine configs (generate-config), a preflight of every node, `apply-config
  --insecure` on the nodes still in maintenance mode (retried with backoff, optionally several at
  once), a wait until every node has left maintenance, `talosctl bootstrap` exactly once per
  cluster (only while no controller runs etcd; a re-installed controller joins instead), and the
  admin kubeconfig.
- `bootstrap_apps`: once the nodes have registered, the namespaces, the bootstrap secrets, the
  CRDs, the bootstrap helm releases (Cilium ... Flux), and a wait until Flux reports its Git source
  and root Kustomizations Ready.

Nothing here prints: progress goes to the `progress` callback and every function returns which
steps it did, skipped or (in a dry run) planned. In a dry run, reads still run so the plan reflects
the real cluster; a read that fails because there is no cluster yet makes the plan assume the
step is needed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ClusterTemplateError, CommandError
from ..heartbeat import Heartbeat
from ..inputs import AGE_KEY_FILE
from ..run import Executor
from ..tools import sops
from ..tools.talosctl import (NodeStage, Talosctl, already_bootstrapped, last_error_line,
                              requires_client_certificate, untrusted_server)
from .journal import JOURNAL_DIR, Journal, UnreadableJournal
from .nodes import KUBECONFIG as KUBECONFIG_FILE
from .nodes import ClusterNode, read_nodes, talos_client
from .talos_config import TALOSCONFIG

Progress = Callable[[str], None]


BOOTSTRAP_JOURNAL = "bootstrap"
JOURNAL_FILE = JOURNAL_DIR / f"{BOOTSTRAP_JOURNAL}.json"
ETCD_BOOTSTRAP = "etcd_bootstrap"  # the journal record of the one `talosctl bootstrap`
# Where earlier versions kept that record; a checkout bootstrapped by one still has it.
LEGACY_JOURNAL_FILE = Path(".inv") / "bootstrap.json"
APPS_DIR = Path("kubernetes") / "apps"
CRDS_HELMFILE = Path("bootstrap") / "helmfile.d" / "00-crds.yaml"
APPS_HELMFILE = Path("bootstrap") / "helmfile.d" / "01-apps.yaml"
FLUX_NAMESPACE = "flux-system"
# Per request, when checking whether an existing kubeconfig still works (an absent VIP hangs).
KUBE_PROBE_TIMEOUT = 10.0
# Encrypted Secrets applied before Flux exists: its age key, its Git credentials (private
# repositories only, so the file may be absent) and the variables every app substitutes.
BOOTSTRAP_SECRETS = (
    Path("bootstrap") / "sops-age.sops.yaml",
    Path("bootstrap") / "github-deploy-key.sops.yaml",
    Path("kubernetes") / "components" / "sops" / "cluster-secrets.sops.yaml",
)
REQUIRED_SECRETS = (BOOTSTRAP_SECRETS[0], BOOTSTRAP_SECRETS[2])
GIT_SOURCE = ("GitRepository", FLUX_NAMESPACE, "flux-system")
ROOT_KUSTOMIZATION = ("Kustomization", FLUX_NAMESPACE, "flux-system")
# Created by the root Kustomization from kubernetes/flux/cluster; counted once it exists.
APPS_KUSTOMIZATION = ("Kustomization", FLUX_NAMESPACE, "cluster-apps")

# A node that demands a client certificate its talosconfig's CA did not sign.
FOREIGN = "configured by another cluster"

# Step outcomes.
DONE = "done"
SKIPPED = "skipped"
PLANNED = "planned"  # dry run: would be done


class BootstrapError(ClusterTemplateError):
    """A bootstrap step failed; the message says what to fix and that a re-run continues."""


class PreflightFailed(BootstrapError):
    """Nodes are unreachable or lack their install disk; every problem is listed."""


class ApplyFailed(BootstrapError):
    """`apply-config` kept failing on at least one node after every retry."""


class BootstrapTimeout(BootstrapError):
    """Something did not happen before its deadline."""


class VerifyFailed(BootstrapError):
    """A node is not configured, or its services are not ready."""


def _quiet(_: str) -> None:
    return None


# -- timing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Pauses, retries and deadlines. Tests pass small values (or `scaled`) so they run fast."""

    probe_attempts: int = 3  # preflight: tries per node before it counts as unreachable
    probe_pause: float = 2.0
    apply_initial: float = 3.0  # apply-config retries: 3 s, 6 s, 12 s, 24 s, 48 s
    apply_factor: float = 2.0
    apply_max: float = 60.0
    apply_retries: int = 5
    poll: float = 5.0  # between two looks at the state while waiting
    install_timeout: float = 900.0  # nodes: maintenance -> installed and answering securely
    bootstrap_timeout: float = 600.0  # talosctl bootstrap accepted / etcd answering
    bootstrap_pause: float = 10.0
    nodes_timeout: float = 900.0  # Kubernetes nodes registered
    flux_timeout: float = 900.0  # GitRepository + root Kustomizations Ready
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def apply_delays(self) -> list[float]:
        return [min(self.apply_initial * self.apply_factor ** attempt, self.apply_max)
                for attempt in range(self.apply_retries)]

    def scaled(self, factor: float) -> Timing:
        """Every pause multiplied by `factor` (deadlines unchanged)."""
        return replace(self, probe_pause=self.probe_pause * factor, apply_initial=self.apply_initial * factor,
                       apply_max=self.apply_max * factor, poll=self.poll * factor,
                       bootstrap_pause=self.bootstrap_pause * factor)

    def with_deadline(self, seconds: float) -> Timing:
        """Every wait limited to `seconds`."""
        return replace(self, install_timeout=seconds, bootstrap_timeout=seconds, nodes_timeout=seconds,
                       flux_timeout=seconds)


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a bootstrap and what became of it (done, skipped, or planned in a dry run)."""

    name: str
    outcome: str
    detail: str = ""

    def describe(self) -> str:
        return f"{self.name}: {self.outcome}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class StepLog:
    """Steps in the order they ran; `record` also reports each one as progress."""

    progress: Progress = _quiet
    steps: list[Step] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, step: Step) -> Step:
        with self._lock:
            self.steps.append(step)
        self.progress(step.describe())
        return step


@dataclass(frozen=True)
class NodeCheck:
    """What preflight found on one node: maintenance, configured (left maintenance) or unreachable."""

    node: ClusterNode
    state: str
    disk_found: bool | None = None  # None when not checked (configured or unreachable nodes)
    detail: str = ""


@dataclass
class PreflightResult:
    checks: list[NodeCheck]
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def in_state(self, state: str) -> list[ClusterNode]:
        return [check.node for check in self.checks if check.state == state]


@dataclass
class TalosBootstrapResult:
    preflight: PreflightResult
    log: StepLog

    @property
    def steps(self) -> list[Step]:
        return self.log.steps


@dataclass
class AppsBootstrapResult:
    log: StepLog
    flux_messages: dict[str, str] = field(default_factory=dict)

    @property
    def steps(self) -> list[Step]:
        return self.log.steps


@dataclass
class VerifyResult:
    ready: list[ClusterNode]
    problems: list[str]


# -- inputs -----------------------------------------------------------------------------------------


def first_controller(nodes: Sequence[ClusterNode]) -> ClusterNode:
    for node in nodes:
        if node.controller:
            return node
    raise BootstrapError("nodes.yaml has no node with controller: true")


def _probe(talosctl: Talosctl, address: str) -> NodeStage:
    """The node's stage, asking the node itself. Without a talosconfig (a dry run before
    generate-config wrote one) only the maintenance API can answer; a node that refuses it for
    want of a client certificate is configured all the same."""
    if talosctl.talosconfig is not None and not Path(talosctl.talosconfig).is_file():
        talosctl = Talosctl(talosctl.ex, None, timeout=talosctl.timeout)
    stage = talosctl.probe_stage(address, direct=True)
    if not stage.reachable and not requires_client_certificate(stage.detail) and _has_endpoints(talosctl):
        # This machine may have no route to the node (a firewall, another subnet) while apid on a
        # talosconfig endpoint reaches it over the cluster network: a configured node answers there.
        proxied = talosctl.probe_stage(address, maintenance=False)
        if proxied.reachable:
            return proxied
    if not stage.reachable and requires_client_certificate(stage.detail):
        if talosctl.talosconfig is not None and untrusted_server(stage.detail):
            # Configured (it demands a client certificate) but not by this cluster's CA.
            return NodeStage(FOREIGN, detail="configured by another cluster: its Talos API certificate is not "
                                             f"signed by the CA of {TALOSCONFIG}")
        return NodeStage("configured", detail="answers authenticated calls only")
    return stage


def _has_endpoints(talosctl: Talosctl) -> bool:
    """Whether authenticated calls can go through the talosconfig's endpoints (it exists)."""
    return talosctl.talosconfig is not None and Path(talosctl.talosconfig).is_file()


def left_maintenance(stage: NodeStage) -> bool:
    """The node answers the authenticated API: it is installed and configured (by this cluster)."""
    return stage.reachable and stage.stage not in ("maintenance", FOREIGN)


# -- preflight --------------------------------------------------------------------------------------


def disk_matches(wanted: str, disks: Sequence[dict[str, Any]]) -> bool:
    """`disk` of nodes.yaml against `talosctl get disks`: a path names the device (or one of its
    /dev/disk/by-* links), anything else is a serial number."""
    if wanted.startswith("/"):
        return any(disk.get("dev_path") == wanted or wanted in (disk.get("symlinks") or []) for disk in disks)
    return any(disk.get("serial") == wanted for disk in disks)


def _describe_disks(disks: Sequence[dict[str, Any]]) -> str:
    found = [f"{disk.get('dev_path', '?')} (serial {disk.get('serial') or '-'}, {disk.get('pretty_size', '?')})"
             for disk in disks if not disk.get("cdrom") and not disk.get("readonly")]
    return ", ".join(found) or "none"


def check_node(talosctl: Talosctl, node: ClusterNode, timing: Timing) -> NodeCheck:
    """Reachability (tried `probe_attempts` times) and, in maintenance mode, the install disk."""
    stage = NodeStage("unreachable")
    for attempt in range(timing.probe_attempts):
        stage = _probe(talosctl, node.address)
        if stage.reachable:
            break
        if attempt + 1 < timing.probe_attempts:
            timing.sleep(timing.probe_pause)
    if not stage.reachable:
        return NodeCheck(node, "unreachable", detail=last_error_line(stage.detail) or "no answer")
    if stage.stage == FOREIGN:
        return NodeCheck(node, FOREIGN, detail=stage.detail)
    if left_maintenance(stage):
        return NodeCheck(node, "configured", detail=f"stage {stage.stage}")
    try:
        disks = talosctl.disks(node.address, insecure=True)
    except CommandError as error:
        return NodeCheck(node, "maintenance", False, f"cannot list disks: {last_error_line(error.stderr_tail)}")
    if disk_matches(node.disk, disks):
        return NodeCheck(node, "maintenance", True)
    return NodeCheck(node, "maintenance", False, f"install disk {node.disk} not found; disks: {_describe_disks(disks)}")


def preflight(root: Path, ex: Executor, *, nodes: Sequence[ClusterNode] | None = None, timing: Timing = Timing(),
              progress: Progress = _quiet, strict: bool = True, talosctl: Talosctl | None = None) -> PreflightResult:
    """Check every node: reachable on the Talos API and, while in maintenance mode, its install
    disk present. A node that already left maintenance counts as done.

    Unreachable nodes are warnings; when every node is unreachable or a disk is missing, raises
    PreflightFailed listing every problem (unless `strict` is False: then they are only returned)."""
    nodes = list(nodes) if nodes is not None else list(read_nodes(root).nodes)
    talosctl = talosctl or talos_client(root, ex, required=False)
    result = PreflightResult([])
    for node in nodes:
        check = check_node(talosctl, node, timing)
        result.checks.append(check)
        if check.state == "unreachable":
            message = f"{node.label}: not reachable on the Talos API ({check.detail})"
            result.warnings.append(message)
            progress(f"warning: {message}")
        elif check.state == FOREIGN:
            result.problems.append(f"{node.label}: {check.detail}; check its address in nodes.yaml, or reset it "
                                   "with that cluster's talosconfig (`talosctl reset`) so it boots into maintenance "
                                   "mode")
            progress(f"{node.label}: {check.detail}")
        elif check.state == "configured":
            progress(f"{node.label}: already configured ({check.detail})")
        elif check.disk_found:
            progress(f"{node.label}: maintenance mode, install disk {node.disk} present")
        else:
            result.problems.append(f"{node.label}: {check.detail}")
            progress(f"{node.label}: {check.detail}")
    if nodes and len(result.in_state("unreachable")) == len(nodes):
        result.problems.append("no node is reachable: boot the machines from the Talos ISO and check their "
                               "addresses in nodes.yaml (nodes that are installing or rebooting do not answer "
                               "for a few minutes: then wait and re-run)")
    if result.problems and strict:
        listed = [*result.warnings, *result.problems]
        raise PreflightFailed("preflight failed:\n" + "\n".join(f"  {p}" for p in listed))
    return result


# -- journal ----------------------------------------------------------------------------------------


def bootstrap_journal(root: Path, ex: Executor) -> Journal:
    """`.inv/journal/bootstrap.json`: what this checkout already did to the cluster (git-ignored).

    It records the etcd bootstrap, so a re-run never sends a second `talosctl bootstrap` while etcd
    is still starting and cannot answer yet. A first controller found in maintenance mode has lost
    its etcd data (a reset), which makes the record stale: it is then forgotten. The record of an
    earlier version's `.inv/bootstrap.json` is carried over (and that file removed)."""
    recovery = ("it records whether etcd was bootstrapped, so that no second `talosctl bootstrap` is sent. Check "
                f"etcd first: `talosctl --talosconfig {TALOSCONFIG} -n <controller address> etcd members`. When a "
                "controller answers with members, or no bootstrap was ever sent, delete the file and re-run `inv "
                "bootstrap.talos`; when etcd is still starting, wait until it answers, then delete the file")
    journal = Journal(root, ex, BOOTSTRAP_JOURNAL, recovery=recovery)
    legacy = root / LEGACY_JOURNAL_FILE
    if legacy.is_file() and not legacy.is_symlink():
        try:
            record = json.loads(legacy.read_text()).get(ETCD_BOOTSTRAP)
        except (OSError, ValueError, AttributeError) as error:
            raise UnreadableJournal(f"{LEGACY_JOURNAL_FILE} cannot be read ({error}); {recovery}") from None
        if isinstance(record, dict) and journal.recorded(ETCD_BOOTSTRAP) is None:
            journal.record(ETCD_BOOTSTRAP, **record)
        if not ex.dry:  # a dry run reads the old record, and leaves it where it is
            ex.remove(legacy, label=str(LEGACY_JOURNAL_FILE))
    return journal


def _record_bootstrap(journal: Journal, node: ClusterNode, how: str) -> None:
    journal.record(ETCD_BOOTSTRAP, node=node.name, address=node.address, how=how)


# -- bootstrap.talos --------------------------------------------------------------------------------


def bootstrap_talos(root: Path, ex: Executor, *, schema: Path, parallel: int = 1, timing: Timing = Timing(),
                    progress: Progress = _quiet) -> TalosBootstrapResult:
    """Install Talos on every node and start the cluster; see the module docstring."""
    from .talos_config import generate_talos_config

    if parallel < 1:
        raise BootstrapError("--parallel must be at least 1")
    nodes = list(read_nodes(root).nodes)
    first = first_controller(nodes)
    journal = bootstrap_journal(root, ex)  # an unreadable journal stops the run before anything is done
    log = StepLog(progress)

    progress("generating machine configs")
    generated = generate_talos_config(root, ex, schema=schema)
    missing = [node.name for node in nodes if node.name not in generated.machine_configs]
    if missing:
        raise BootstrapError(f"no machine config for {', '.join(missing)}: talos/talconfig.yaml does not match "
                             "nodes.yaml; run `inv configure`")
    changed = ", ".join(generated.changed)
    log.record(Step("machine configs", (PLANNED if ex.dry else DONE) if changed else SKIPPED,
                    f"written: {changed}" if changed else "unchanged"))
    if generated.secrets_created:
        progress("new Talos secrets bundle talos/talsecret.sops.yaml: commit it (the cluster cannot be managed "
                 "without it)")

    progress("preflight: checking every node")
    # A dry run plans past preflight problems (reported as warnings): it may run before the
    # machines are up, or without talosctl, and then assumes every step is still to do.
    checked = preflight(root, ex, nodes=nodes, timing=timing, progress=progress, strict=not ex.dry)
    controllers = [node for node in nodes if node.controller]
    installing = [node for node in controllers if node in checked.in_state("maintenance")]
    if len(installing) == len(controllers):
        # Every controller lost its etcd data (a whole-cluster reset): the record is stale. With
        # one controller left, the cluster lives on and a re-installed one must join it.
        journal.forget(ETCD_BOOTSTRAP)

    talosctl = talos_client(root, ex, required=False)
    states = {check.node.name: check for check in checked.checks}
    changed_but_configured = [node.name for node in checked.in_state("configured") if node.name in generated.changed]
    if changed_but_configured:
        progress(f"note: the machine configs of {', '.join(changed_but_configured)} changed, but these nodes are "
                 "already configured; the bootstrap does not re-apply them (use the talos.* tasks)")
    apply_configs(talosctl, nodes, generated.machine_configs, states, log, timing=timing, parallel=parallel)
    wait_left_maintenance(talosctl, nodes, log, timing=timing, dry=ex.dry)
    bootstrap_etcd(talosctl, controllers, journal, log, timing=timing, dry=ex.dry,
                   installed={node.name for node in installing})
    fetch_kubeconfig(root, talosctl, first, log)
    return TalosBootstrapResult(checked, log)


def apply_configs(talosctl: Talosctl, nodes: Sequence[ClusterNode], configs: dict[str, Path],
                  states: dict[str, NodeCheck], log: StepLog, *, timing: Timing, parallel: int = 1) -> None:
    """`apply-config --insecure` on every node still in maintenance mode, `parallel` at a time.
    Every node is attempted; the failures are raised together at the end."""

    def one(node: ClusterNode) -> str | None:
        try:
            log.record(apply_node(talosctl, node, configs[node.name], states.get(node.name), log.progress, timing))
        except ApplyFailed as error:
            return str(error)
        return None

    if parallel > 1 and len(nodes) > 1:
        with ThreadPoolExecutor(max_workers=min(parallel, len(nodes))) as pool:
            failures = [f for f in pool.map(one, nodes) if f]
    else:
        failures = [f for f in map(one, nodes) if f]
    if failures:
        raise ApplyFailed("applying machine configs failed:\n" + "\n".join(f"  {f}" for f in failures)
                          + "\nfix the cause (a node that is installing or rebooting answers again after a few "
                          "minutes) and re-run `inv bootstrap.talos`: configured nodes are skipped")


def apply_node(talosctl: Talosctl, node: ClusterNode, config: Path, known: NodeCheck | None, progress: Progress,
               timing: Timing) -> Step:
    """Apply one node's config unless it already left maintenance. Before every retry the node is
    asked again, so an apply that worked although its answer was lost is not repeated."""
    name = f"apply {node.name}"
    delays = timing.apply_delays()
    ex = talosctl.ex
    last = ""
    for attempt in range(len(delays) + 1):
        if attempt == 0 and known is not None and known.state != "unreachable":
            state = known.state
        else:
            stage = _probe(talosctl, node.address)
            state = "configured" if left_maintenance(stage) else stage.stage
            last = last_error_line(stage.detail) if not stage.reachable else last
        if state == "configured":
            return Step(name, SKIPPED if attempt == 0 else DONE, "already left maintenance mode" if attempt == 0
                        else "configured")
        if state == "maintenance" or ex.dry:
            try:
                result = talosctl.apply_config(node.address, config, insecure=True)
            except CommandError as error:
                last = last_error_line(error.stderr_tail) or str(error)
            else:
                if result.dry:
                    return Step(name, PLANNED, f"{node.address}, from maintenance mode")
                return Step(name, DONE, f"{node.address}: installing")
        if attempt < len(delays):
            progress(f"{node.label}: apply-config failed: {last or 'not reachable'}; retry {attempt + 1}/"
                     f"{len(delays)} in {delays[attempt]:g}s")
            timing.sleep(delays[attempt])
    raise ApplyFailed(f"{node.label}: {last or 'not reachable'} (after {len(delays) + 1} attempts)")


def wait_left_maintenance(talosctl: Talosctl, nodes: Sequence[ClusterNode], log: StepLog, *, timing: Timing,
                          dry: bool) -> None:
    """Wait until every node answers the authenticated Talos API (installed, rebooted, configured).
    A dry run looks once: the wait is planned unless every node already answers."""
    if dry:
        pending = [node.address for node in nodes if not left_maintenance(_probe(talosctl, node.address))]
        if pending:
            log.record(Step("wait for nodes to leave maintenance", PLANNED, ", ".join(pending)))
            return
    deadline = timing.clock() + timing.install_timeout
    pulse = Heartbeat("nodes to leave maintenance mode", log.progress, talosctl.ex.heartbeat, clock=timing.clock)
    waiting = list(nodes)
    first_look = True
    last_reported: tuple[str, ...] = ()
    stages: dict[str, NodeStage] = {}
    while True:
        for node in list(waiting):
            stages[node.name] = _probe(talosctl, node.address)
            if left_maintenance(stages[node.name]):
                waiting.remove(node)
        if not waiting:
            outcome = SKIPPED if first_look else DONE
            log.record(Step("wait for nodes to leave maintenance", outcome,
                            "every node answers the Talos API" if first_look else f"{len(nodes)} node(s) configured"))
            return
        first_look = False
        if timing.clock() >= deadline:
            details = "\n".join(f"  {node.label}: {_stage_text(stages[node.name], verbose=True)}" for node in waiting)
            raise BootstrapTimeout(f"nodes did not leave maintenance mode within {timing.install_timeout:g}s:\n"
                                   f"{details}\nre-run `inv bootstrap.talos` to continue (finished steps are skipped)")
        names = tuple(node.name for node in waiting)
        if names != last_reported:
            log.progress("waiting for nodes to finish installing: "
                         + ", ".join(f"{n.name} ({_stage_text(stages[n.name])})" for n in waiting))
            last_reported = names
        else:
            pulse.beat(", ".join(names))
        timing.sleep(timing.poll)


def _stage_text(stage: NodeStage, *, verbose: bool = False) -> str:
    if stage.reachable:
        return f"stage {stage.stage}"
    # probe_stage joins the errors of the authenticated and the maintenance API; the first says why.
    detail = last_error_line(stage.detail.split("; rpc error")[0]) if verbose else ""
    return "installing or rebooting, not answering yet" + (f": {detail}" if detail else "")


def etcd_bootstrapped(talosctl: Talosctl, node: ClusterNode) -> list[str] | None:
    """Hostnames of the etcd members as the node reports them, or None when etcd does not answer
    there (not bootstrapped, or still joining: a joining member answers only once it has joined).

    Asked through the talosconfig's endpoints first (`-e <controllers> -n <node>`: apid there
    reaches nodes this machine may have no route to), then at the node's own address (the
    endpoints may all be down or still installing while the node answers)."""
    for direct in (False, True) if _has_endpoints(talosctl) else (True,):
        try:
            members = talosctl.etcd_members(node.address, direct=direct)
        except CommandError:
            continue
        names = [row.get("hostname", "") for row in members if row.get("hostname")]
        if names:
            return names
    return None


def etcd_members_anywhere(talosctl: Talosctl, controllers: Sequence[ClusterNode]) -> dict[str, list[str]]:
    """The etcd members every controller that runs etcd reports (controller name -> hostnames).

    Talos refuses `bootstrap` only when the node's own etcd data directory has data, so asking
    one node is never enough: a controller that is joining (or was just re-installed) has none and
    would start a second cluster beside the one the other controllers run."""
    found = {}
    for node in controllers:
        members = etcd_bootstrapped(talosctl, node)
        if members:
            found[node.name] = members
    return found


def bootstrap_etcd(talosctl: Talosctl, controllers: Sequence[ClusterNode], journal: Journal, log: StepLog, *,
                   timing: Timing, dry: bool, installed: Collection[str] = ()) -> Step:
    """`talosctl bootstrap` exactly once for the life of the cluster, never once per node.

    Bootstraps only when no controller runs etcd. When some do, the others join by themselves
    (Talos adds a configured controller as a member): this waits for the controllers `installed`
    by this run to join. With no etcd anywhere, a controller that was configured before this run
    is preferred as the target: if it still holds etcd data Talos refuses (AlreadyExists), while a
    freshly installed one would accept and found a new cluster."""
    first = first_controller(controllers)
    found = etcd_members_anywhere(talosctl, controllers)
    if found:
        if journal.recorded(ETCD_BOOTSTRAP) is None:
            _record_bootstrap(journal, next(n for n in controllers if n.name in found), "found")
        return _await_join(talosctl, controllers, found, installed, log, timing=timing, dry=dry)
    recorded = journal.recorded(ETCD_BOOTSTRAP)
    if recorded is not None and dry:
        return log.record(Step(f"bootstrap etcd on {first.name}", SKIPPED,
                               f"recorded in {JOURNAL_FILE} at {recorded.get('at')}; a run would wait for etcd "
                               "to answer"))
    if recorded is not None:
        # Bootstrapped by an earlier run; etcd may still be starting. Never send it twice.
        log.progress(f"etcd was bootstrapped on {recorded.get('node')} at {recorded.get('at')} "
                     f"(recorded in {JOURNAL_FILE}); waiting for it to answer")
        deadline = timing.clock() + timing.bootstrap_timeout
        while timing.clock() < deadline:
            timing.sleep(timing.poll)
            found = etcd_members_anywhere(talosctl, controllers)
            if found:
                return _await_join(talosctl, controllers, found, installed, log, timing=timing, dry=dry,
                                   earlier=True)
        names = ", ".join(node.label for node in controllers)
        raise BootstrapTimeout(
            f"etcd answers on no controller ({names}) although it was bootstrapped at {recorded.get('at')} "
            f"(recorded in {JOURNAL_FILE}); check `talosctl --talosconfig {TALOSCONFIG} -n {first.address} "
            f"services`. If every controller was reset, delete {JOURNAL_FILE} and re-run `inv bootstrap.talos`")
    target = next((node for node in controllers if node.name not in installed), first)
    return _send_bootstrap(talosctl, target, journal, log, timing=timing)


def _await_join(talosctl: Talosctl, controllers: Sequence[ClusterNode], found: dict[str, list[str]],
                installed: Collection[str], log: StepLog, *, timing: Timing, dry: bool, earlier: bool = False) -> Step:
    """etcd runs: wait until the controllers this run installed answer as members themselves."""
    first = first_controller(controllers)
    name = f"bootstrap etcd on {first.name}"
    joining = [node for node in controllers if node.name in installed and node.name not in found]
    members = sorted({member for listed in found.values() for member in listed})
    already = "bootstrapped earlier" if earlier else "already bootstrapped"
    if not joining:
        return log.record(Step(name, SKIPPED, f"{already}; members: {', '.join(members)}"))
    labels = ", ".join(node.name for node in joining)
    if dry:
        return log.record(Step(name, SKIPPED, f"{already} (members: {', '.join(members)}); a run would wait for "
                                              f"{labels} to join"))
    log.progress(f"etcd runs on {', '.join(found)}; waiting for {labels} to join it (no bootstrap: it would start "
                 "a second etcd cluster)")
    deadline = timing.clock() + timing.bootstrap_timeout
    pulse = Heartbeat(f"{labels} to join etcd", log.progress, talosctl.ex.heartbeat, clock=timing.clock)
    while joining:
        joining = [node for node in joining if not etcd_bootstrapped(talosctl, node)]
        if not joining:
            break
        if timing.clock() >= deadline:
            raise BootstrapTimeout(
                f"{', '.join(n.label for n in joining)} did not join etcd within {timing.bootstrap_timeout:g}s; "
                f"check `talosctl --talosconfig {TALOSCONFIG} -n {joining[0].address} service etcd` and "
                f"`talosctl -n {next(iter(found))} etcd members`, then re-run `inv bootstrap.talos`")
        pulse.beat()
        timing.sleep(timing.poll)
    return log.record(Step(name, SKIPPED, f"{already}; {labels} joined the existing etcd cluster"))


def _send_bootstrap(talosctl: Talosctl, target: ClusterNode, journal: Journal, log: StepLog, *,
                    timing: Timing) -> Step:
    """No controller runs etcd and nothing records a bootstrap: send `talosctl bootstrap`."""
    name = f"bootstrap etcd on {target.name}"
    deadline = timing.clock() + timing.bootstrap_timeout
    while True:
        result = talosctl.bootstrap(target.address, direct=True)
        if result.dry:
            return log.record(Step(name, PLANNED, f"{target.address}; etcd does not answer yet"))
        if result.ok:
            _record_bootstrap(journal, target, "bootstrapped")
            return log.record(Step(name, DONE, target.address))
        if already_bootstrapped(result):
            _record_bootstrap(journal, target, "already bootstrapped")
            return log.record(Step(name, SKIPPED, "Talos reports etcd already bootstrapped"))
        reason = last_error_line(talosctl.ex.redactor.redact(result.stderr)) or f"exit code {result.returncode}"
        if timing.clock() >= deadline:
            raise BootstrapTimeout(f"talosctl bootstrap on {target.label} kept failing for "
                                   f"{timing.bootstrap_timeout:g}s: {reason}\nre-run `inv bootstrap.talos` to retry")
        log.progress(f"bootstrap not accepted yet ({reason}); retrying in {timing.bootstrap_pause:g}s")
        timing.sleep(timing.bootstrap_pause)


def kube_reachable(kubeconfig: Path, ex: Executor) -> bool:
    """Whether `kubeconfig` exists and its credentials are accepted by a Kubernetes API server."""
    if not kubeconfig.is_file():
        return False
    from ..cluster.kube import Kube

    try:
        with Kube(kubeconfig, ex, timeout=KUBE_PROBE_TIMEOUT) as kube:
            kube.nodes()
    except ClusterTemplateError:
        return False
    return True


def fetch_kubeconfig(root: Path, talosctl: Talosctl, first: ClusterNode, log: StepLog) -> Step:
    """`talosctl kubeconfig <root>/kubeconfig --force`, unless the present one already works."""
    path = root / KUBECONFIG_FILE
    if kube_reachable(path, talosctl.ex):
        return log.record(Step("kubeconfig", SKIPPED, f"{KUBECONFIG_FILE} already reaches the API server"))
    result = talosctl.kubeconfig(path, first.address, direct=True)
    return log.record(Step("kubeconfig", PLANNED if result.dry else DONE, f"{KUBECONFIG_FILE} from {first.address}"))


# -- bootstrap.verify -------------------------------------------------------------------------------


def verify(root: Path, ex: Executor, *, nodes: Sequence[ClusterNode] | None = None, timing: Timing = Timing(),
           timeout: float = 0.0, progress: Progress = _quiet) -> VerifyResult:
    """Every node left maintenance mode and its services run (machine status ready), waiting up
    to `timeout` seconds for that. Raises VerifyFailed listing every node that is not ready."""
    nodes = list(nodes) if nodes is not None else list(read_nodes(root).nodes)
    talosctl = talos_client(root, ex)
    deadline = timing.clock() + timeout
    while True:
        ready, problems = [], []
        for node in nodes:
            stage = talosctl.probe_stage(node.address, direct=True)
            if stage.reachable and stage.stage == "running" and stage.ready:
                ready.append(node)
            elif stage.stage == "maintenance":
                problems.append(f"{node.label}: still in maintenance mode; run `inv bootstrap.talos`")
            elif stage.reachable:
                problems.append(f"{node.label}: stage {stage.stage}, services not ready")
            else:
                problems.append(f"{node.label}: not reachable ({last_error_line(stage.detail) or 'no answer'})")
        if not problems or timing.clock() >= deadline:
            break
        progress(f"{len(ready)}/{len(nodes)} nodes ready; waiting ({problems[0]})")
        timing.sleep(timing.poll)
    if problems:
        raise VerifyFailed("nodes not ready:\n" + "\n".join(f"  {p}" for p in problems))
    return VerifyResult(ready, problems)


# -- bootstrap.apps ---------------------------------------------------------------------------------


def app_namespaces(root: Path) -> list[str]:
    """One namespace per folder of kubernetes/apps/, and flux-system (the bootstrap secrets' home)."""
    folders = sorted(path.name for path in (root / APPS_DIR).iterdir() if path.is_dir()) \
        if (root / APPS_DIR).is_dir() else []
    return list(dict.fromkeys([*folders, FLUX_NAMESPACE]))


def yaml_documents(text: str, source: str) -> list[dict[str, Any]]:
    """The mappings of a multi-document YAML stream (empty documents dropped). The text may be
    decrypted secrets, so an error says where and never quotes it."""
    from ..yamlload import load_all

    return [doc for doc in load_all(text, source=source, secret=True) if isinstance(doc, dict)]


def decrypted_secret_documents(root: Path, ex: Executor, relative: Path) -> list[dict[str, Any]]:
    """The Secrets of an encrypted file, decrypted in memory; every value is registered with the
    redactor first, and documents without a namespace go to flux-system."""
    from ..cluster.manifests import secret_values

    text = sops.decrypt(ex, root / relative, age_key_file=root / AGE_KEY_FILE)
    ex.redactor.add(text)
    documents = yaml_documents(text, str(relative))
    for document in documents:
        ex.redactor.add(*secret_values(document))
        metadata = document.setdefault("metadata", {})
        if isinstance(metadata, dict) and not metadata.get("namespace"):
            metadata["namespace"] = FLUX_NAMESPACE
    return documents


def crd_documents(root: Path, ex: Executor, kubeconfig: Path) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of `helmfile template` on bootstrap/helmfile.d/00-crds.yaml."""
    from ..tools.helmfile import Helmfile

    rendered = Helmfile(ex, kubeconfig).template(root / CRDS_HELMFILE)
    crds = [doc for doc in yaml_documents(rendered, f"helmfile template of {CRDS_HELMFILE}")
            if doc.get("kind") == "CustomResourceDefinition"]
    if not crds:
        raise BootstrapError(f"`helmfile template` of {CRDS_HELMFILE} rendered no CustomResourceDefinition; "
                             "check the releases in that file")
    return crds


def _applied(results: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """(outcome, detail) of an apply: skipped when every object was unchanged."""
    changed = [f"{subject} {action}" for subject, action in results if action != "unchanged"]
    if not changed:
        return SKIPPED, f"{len(results)} unchanged"
    unchanged = len(results) - len(changed)
    return DONE, ", ".join(changed) + (f"; {unchanged} unchanged" if unchanged else "")


class _AppsRun:
    """The steps of `bootstrap_apps`, sharing the client, the log and the dry-run rules."""

    def __init__(self, root: Path, ex: Executor, nodes: Sequence[ClusterNode], timing: Timing, log: StepLog):
        from ..cluster import KubeConfigError

        self.root, self.ex, self.nodes, self.timing, self.log = root, ex, nodes, timing, log
        self.kubeconfig = root / KUBECONFIG_FILE
        self.kube: Any = None
        try:
            from ..cluster import Kube

            self.kube = Kube(self.kubeconfig, ex)
        except KubeConfigError as error:
            if not ex.dry:
                raise BootstrapError(f"{error}; run `inv bootstrap.talos` first") from None
            log.progress(f"{KUBECONFIG_FILE} is not usable ({error.detail}); the plan assumes an empty cluster")

    def close(self) -> None:
        if self.kube is not None:
            self.kube.close()

    def _planned(self, name: str, detail: str, error: Exception | None = None) -> Step:
        if error is not None:
            detail += f"; cluster not readable: {error}"
        return self.log.record(Step(name, PLANNED, detail))

    def wait_for_nodes(self) -> Step:
        from ..cluster import KubeAccessError, KubeTimeout

        name = "wait for nodes to register"
        names = [node.name for node in self.nodes]
        if self.kube is None:
            return self._planned(name, ", ".join(names))
        try:
            registered = {node.name: node for node in self.kube.nodes()}
        except KubeAccessError as error:
            if self.ex.dry:
                return self._planned(name, ", ".join(names), error)
            registered = {}
        if all(n in registered for n in names):
            ready = sum(1 for n in names if registered[n].ready)
            return self.log.record(Step(name, SKIPPED, f"all {len(names)} registered, {ready} Ready"))
        if self.ex.dry:
            return self._planned(name, ", ".join(n for n in names if n not in registered))
        self.log.progress("waiting for the nodes to register (they stay NotReady until the CNI is installed)")
        try:
            self.kube.wait_for_nodes(names, registered_only=True, timeout=self.timing.nodes_timeout,
                                     poll=self.timing.poll, progress=self.log.progress)
        except KubeTimeout as error:
            raise BootstrapTimeout(f"{error}\ncheck `inv bootstrap.verify`, then re-run `inv bootstrap.apps`") from None
        return self.log.record(Step(name, DONE, f"{len(names)} registered"))

    def namespaces(self) -> Step:
        from ..cluster import KubeAccessError

        name = "namespaces"
        wanted = app_namespaces(self.root)
        if self.kube is None:
            return self._planned(name, ", ".join(wanted))
        try:
            results = self.kube.ensure_namespaces(wanted)
        except KubeAccessError as error:
            if not self.ex.dry:
                raise
            return self._planned(name, ", ".join(wanted), error)
        created = [ns for ns, action in results if action == "created"]
        if not created:
            return self.log.record(Step(name, SKIPPED, f"{len(results)} exist"))
        return self.log.record(Step(name, PLANNED if self.ex.dry else DONE, "created: " + ", ".join(created)))

    def secrets(self) -> None:
        for relative in BOOTSTRAP_SECRETS:
            name = f"secret {relative}"
            if not (self.root / relative).is_file():
                if relative in REQUIRED_SECRETS:
                    raise BootstrapError(f"{relative} not found; run `inv configure`")
                self.log.record(Step(name, SKIPPED, "not rendered (public repository)"))
                continue
            documents = decrypted_secret_documents(self.root, self.ex, relative)
            self.apply_documents(name, documents)

    def apply_documents(self, name: str, documents: list[dict[str, Any]]) -> Step:
        from ..cluster import KubeAccessError

        subjects = ", ".join(f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}" for doc in documents)
        if self.kube is None:
            return self._planned(name, f"server-side apply {subjects}")
        try:
            outcome, detail = _applied(self.kube.apply(documents))
        except KubeAccessError as error:
            if not self.ex.dry:
                raise
            return self._planned(name, f"server-side apply {subjects}", error)
        if self.ex.dry and outcome == DONE:
            outcome = PLANNED
        return self.log.record(Step(name, outcome, detail))

    def crds(self) -> Step:
        """The CRDs the releases need before they install. Once Flux manages the releases it owns
        their CRDs too (and may have upgraded them): applying the bootstrap's older copies then only
        ends in server-side-apply conflicts, so the step is skipped, as the sync is."""
        name = f"CRDs from {CRDS_HELMFILE}"
        owned, _ = self.flux_owns_releases()
        if owned:
            return self.log.record(Step(name, SKIPPED, "Flux is Ready and manages the releases and their CRDs"))
        try:
            documents = crd_documents(self.root, self.ex, self.kubeconfig)
        except CommandError as error:
            if not self.ex.dry:
                raise
            return self._planned(name, "server-side apply of the CRDs `helmfile template` renders", error)
        return self.apply_documents(name, documents)

    def flux_state(self) -> dict[tuple[str, str, str], tuple[bool | None, str]]:
        """Ready state of the Git source and root Kustomizations (None: does not exist)."""
        return {target: self.kube.flux_ready(*target) for target in (GIT_SOURCE, ROOT_KUSTOMIZATION,
                                                                      APPS_KUSTOMIZATION)}

    def flux_owns_releases(self) -> tuple[bool, str]:
        from ..cluster import KubeAccessError

        if self.kube is None:
            return False, "no cluster"
        try:
            state = self.flux_state()
        except KubeAccessError as error:
            if not self.ex.dry:
                raise
            return False, str(error)
        needed = [GIT_SOURCE, ROOT_KUSTOMIZATION] + ([APPS_KUSTOMIZATION] if state[APPS_KUSTOMIZATION][0] is not None
                                                     else [])
        waiting = [f"{'/'.join(target)}: {state[target][1]}" for target in needed if not state[target][0]]
        return not waiting, "; ".join(waiting)

    def sync_releases(self) -> Step:
        from ..tools.helmfile import Helmfile

        name = f"helmfile sync {APPS_HELMFILE}"
        owned, _ = self.flux_owns_releases()
        if owned:
            return self.log.record(Step(name, SKIPPED, "Flux is Ready and manages the releases"))
        if not self.ex.dry:
            self.log.progress("installing the bootstrap releases with helmfile (this takes several minutes)")
        result = Helmfile(self.ex, self.kubeconfig).sync(self.root / APPS_HELMFILE)
        return self.log.record(Step(name, PLANNED if result.dry else DONE, "releases synced" if not result.dry
                                    else "cilium, coredns, spegel, cert-manager, flux-operator, flux-instance"))

    def wait_for_flux(self, synced: bool) -> dict[str, str]:
        """Wait for the Git source and root Kustomizations; `synced`: this run installed Flux."""
        from ..cluster import KubeAccessError, KubeTimeout

        name = "wait for Flux to be Ready"
        labels = ", ".join("/".join(target) for target in (GIT_SOURCE, ROOT_KUSTOMIZATION))
        if self.kube is None:
            self._planned(name, labels)
            return {}
        try:
            state = self.flux_state()
        except KubeAccessError as error:
            if not self.ex.dry:
                raise
            self._planned(name, labels, error)
            return {}
        targets = [GIT_SOURCE, ROOT_KUSTOMIZATION] + ([APPS_KUSTOMIZATION] if state[APPS_KUSTOMIZATION][0] is not None
                                                      else [])
        messages = {"/".join(target): state[target][1] for target in targets}
        if all(state[target][0] for target in targets):
            self.log.record(Step(name, DONE if synced else SKIPPED,
                                 f"{', '.join(messages)} {'Ready' if synced else 'already Ready'}"))
            return messages
        if self.ex.dry:
            self._planned(name, "; ".join(f"{key}: {message}" for key, message in messages.items()))
            return messages
        try:
            results = self.kube.wait_flux_ready(targets, timeout=self.timing.flux_timeout, poll=self.timing.poll,
                                                progress=self.log.progress)
        except KubeTimeout as error:
            raise BootstrapTimeout(f"{error}\nFlux reports the reason above; fix it (often the Git repository or "
                                   "its deploy key), then re-run `inv bootstrap.apps`") from None
        messages = {subject: message for subject, message in results}
        self.log.record(Step(name, DONE, f"{len(results)} Ready"))
        return messages


def bootstrap_apps(root: Path, ex: Executor, *, nodes: Sequence[ClusterNode] | None = None,
                   timing: Timing = Timing(), progress: Progress = _quiet) -> AppsBootstrapResult:
    """Install the cluster's base and hand it to Flux; see the module docstring. Needs the
    kubeconfig `bootstrap_talos` fetched (a dry run without one plans for an empty cluster)."""
    nodes = list(nodes) if nodes is not None else list(read_nodes(root).nodes)
    log = StepLog(progress)
    run = _AppsRun(root, ex, nodes, timing, log)
    try:
        run.wait_for_nodes()
        run.namespaces()
        run.secrets()
        run.crds()
        synced = run.sync_releases().outcome == DONE
        messages = run.wait_for_flux(synced)
    finally:
        run.close()
    return AppsBootstrapResult(log, messages)
