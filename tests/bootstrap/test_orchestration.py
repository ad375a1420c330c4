"""The bootstrap steps' decisions (retry, skip, wait, bootstrap once) against a scripted Talos API.

The task-level tests (test_tasks.py) run the real `inv bootstrap.*` against the fake CLIs; these
drive single steps with a stand-in for the talosctl wrapper, so the retry schedule, the deadlines
and the concurrency of `--parallel` can be checked exactly and without waiting."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cluster_template.errors import CommandError
from cluster_template.ops import bootstrap as bs
from cluster_template.ops.journal import Journal, UnreadableJournal
from cluster_template.run import CommandResult, Executor
from cluster_template.tools.talosctl import NodeStage

UNREACHABLE = 'rpc error: code = Unavailable desc = connection error: desc = "dial tcp: connect: connection refused"'
ALREADY = ("error executing bootstrap: 1 error occurred:\n\t* 10.0.0.11: rpc error: code = AlreadyExists desc = "
           "etcd data directory is not empty\n")


class Clock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def timing(clock: Clock, **overrides: float) -> bs.Timing:
    return bs.Timing(sleep=clock.sleep, clock=clock, **overrides)  # type: ignore[arg-type]


@dataclass
class Machine:
    stage: str = "maintenance"  # maintenance | running | unreachable
    apply_failures: int = 0
    disks: list[dict] = field(default_factory=lambda: [{"dev_path": "/dev/sda", "serial": "S1", "symlinks": []}])
    # Looks at the node that still find it unreachable before it answers as running (after an apply).
    installing_looks: int = 0


class ScriptedTalos:
    """Stands in for tools.talosctl.Talosctl: the same methods, answering from `machines`."""

    def __init__(self, machines: dict[str, Machine], *, dry: bool = False, bootstrap_answers=None,
                 etcd_members: list[str] | None = None, install_looks: int = 1):
        self.ex = Executor(dry=dry)
        self.talosconfig = None
        self.timeout = 60.0
        self.machines = machines
        self.calls: list[tuple[str, str]] = []
        self.bootstrap_answers = list(bootstrap_answers or [])
        self.members = list(etcd_members or [])
        # Addresses whose etcd answers (None: every node's, once there are members).
        self.member_nodes: set[str] | None = None
        self.install_looks = install_looks
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()
        self.gate: threading.Barrier | None = None

    def probe_stage(self, address: str, *, timeout: float = 15, direct: bool = False) -> NodeStage:
        self.calls.append(("probe", address))
        machine = self.machines[address]
        if machine.installing_looks:
            machine.installing_looks -= 1
            if not machine.installing_looks:
                machine.stage = "running"
            return NodeStage("unreachable", detail=UNREACHABLE)
        if machine.stage == "unreachable":
            return NodeStage("unreachable", detail=UNREACHABLE)
        return NodeStage(machine.stage, ready=machine.stage == "running")

    def disks(self, address: str, *, insecure: bool = True) -> list[dict]:
        return self.machines[address].disks

    def apply_config(self, address: str, config: Path, *, insecure: bool = False, **_: object) -> CommandResult:
        self.calls.append(("apply", address))
        if self.ex.dry:
            return CommandResult(("talosctl",), 0, dry=True)
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if self.gate is not None:
                self.gate.wait(timeout=5)
            machine = self.machines[address]
            if machine.apply_failures:
                machine.apply_failures -= 1
                raise CommandError(f"talosctl apply-config --nodes {address}", 1, UNREACHABLE)
            assert machine.stage == "maintenance", "apply-config sent to a configured node"
            machine.installing_looks = self.install_looks
            return CommandResult(("talosctl",), 0)
        finally:
            with self.lock:
                self.active -= 1

    def etcd_members(self, address: str, *, direct: bool = False, timeout: float | None = None) -> list[dict]:
        self.calls.append(("etcd members", address))
        if self.member_nodes is not None and address not in self.member_nodes:
            raise CommandError("talosctl etcd members", 1, "rpc error: code = Unknown desc = context deadline exceeded")
        if not self.members:
            raise CommandError("talosctl etcd members", 1, "rpc error: code = Unknown desc = context deadline exceeded")
        return [{"hostname": name} for name in self.members]

    def bootstrap(self, address: str, *, direct: bool = False) -> CommandResult:
        self.calls.append(("bootstrap", address))
        if self.ex.dry:
            return CommandResult(("talosctl",), 0, dry=True)
        returncode, stderr = self.bootstrap_answers.pop(0) if self.bootstrap_answers else (0, "")
        if returncode == 0:
            self.members = ["k8s-0"]
        return CommandResult(("talosctl", "bootstrap"), returncode, "", stderr)

    def count(self, what: str, address: str | None = None) -> int:
        return sum(1 for kind, target in self.calls if kind == what and (address is None or target == address))


NODES = [bs.ClusterNode("k8s-0", "10.0.0.11", True, disk="/dev/sda"),
         bs.ClusterNode("k8s-1", "10.0.0.12", False, disk="/dev/sda"),
         bs.ClusterNode("k8s-2", "10.0.0.13", False, disk="S1")]
CONFIGS = {node.name: Path(f"/configs/{node.name}.yaml") for node in NODES}


def machines(**stages: str) -> dict[str, Machine]:
    return {node.address: Machine(stages.get(node.name.replace("-", "_"), "maintenance")) for node in NODES}


# -- retry schedule and apply ---------------------------------------------------------------------------

def test_apply_backoff_doubles_from_three_seconds_up_to_a_minute():
    assert bs.Timing().apply_delays() == [3, 6, 12, 24, 48]
    assert bs.Timing(apply_retries=7).apply_delays() == [3, 6, 12, 24, 48, 60, 60]
    assert bs.Timing().scaled(0.01).apply_delays() == pytest.approx([0.03, 0.06, 0.12, 0.24, 0.48])


def test_apply_retries_with_backoff_then_succeeds():
    clock = Clock()
    talos = ScriptedTalos(machines())
    talos.machines["10.0.0.12"].apply_failures = 2
    progress: list[str] = []
    step = bs.apply_node(talos, NODES[1], CONFIGS["k8s-1"], None, progress.append, timing(clock))
    assert step.outcome == bs.DONE
    assert talos.count("apply", "10.0.0.12") == 3
    assert clock.sleeps == [3, 6]
    assert "retry 1/5 in 3s" in progress[0] and "connection refused" in progress[0]


def test_apply_gives_up_after_five_retries_and_names_the_node():
    clock = Clock()
    talos = ScriptedTalos(machines())
    talos.machines["10.0.0.12"].apply_failures = 99
    with pytest.raises(bs.ApplyFailed, match=r"k8s-1 \(10.0.0.12\).*connection refused.*after 6 attempts"):
        bs.apply_node(talos, NODES[1], CONFIGS["k8s-1"], None, lambda _: None, timing(clock))
    assert talos.count("apply") == 6
    assert clock.sleeps == [3, 6, 12, 24, 48]


def test_a_node_that_answers_configured_before_a_retry_is_not_applied_again():
    clock = Clock()
    talos = ScriptedTalos(machines())
    machine = talos.machines["10.0.0.12"]
    machine.apply_failures = 1
    # The answer was lost, but the config arrived: the next look finds the node configured.
    real_apply = talos.apply_config

    def lossy_apply(address, config, **kwargs):
        try:
            return real_apply(address, config, **kwargs)
        finally:
            machine.stage = "running"

    talos.apply_config = lossy_apply  # type: ignore[method-assign]
    step = bs.apply_node(talos, NODES[1], CONFIGS["k8s-1"], None, lambda _: None, timing(clock))
    assert step.outcome == bs.DONE and step.detail == "configured"
    assert talos.count("apply") == 1


def test_configured_nodes_are_skipped_and_failures_are_reported_together():
    clock = Clock()
    talos = ScriptedTalos(machines(k8s_0="running"))
    talos.machines["10.0.0.12"].apply_failures = 99
    talos.machines["10.0.0.13"].apply_failures = 99
    log = bs.StepLog()
    with pytest.raises(bs.ApplyFailed) as raised:
        bs.apply_configs(talos, NODES, CONFIGS, {}, log, timing=timing(clock, apply_retries=1))
    message = str(raised.value)
    assert "k8s-1 (10.0.0.12)" in message and "k8s-2 (10.0.0.13)" in message
    assert "re-run `inv bootstrap.talos`" in message
    assert [step.describe() for step in log.steps] == ["apply k8s-0: skipped (already left maintenance mode)"]
    assert talos.count("apply", "10.0.0.11") == 0


def test_parallel_applies_run_at_the_same_time():
    talos = ScriptedTalos(machines())
    talos.gate = threading.Barrier(3)  # each apply waits until three are in flight
    log = bs.StepLog()
    bs.apply_configs(talos, NODES, CONFIGS, {}, log, timing=timing(Clock()), parallel=3)
    assert talos.most_active == 3
    done = sorted(step.name for step in log.steps if step.outcome == bs.DONE)
    assert done == ["apply k8s-0", "apply k8s-1", "apply k8s-2"]


def test_sequential_applies_one_at_a_time_in_nodes_yaml_order():
    talos = ScriptedTalos(machines())
    log = bs.StepLog()
    bs.apply_configs(talos, NODES, CONFIGS, {}, log, timing=timing(Clock()), parallel=1)
    assert talos.most_active == 1
    assert [target for kind, target in talos.calls if kind == "apply"] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]


def test_dry_run_plans_an_apply_even_for_a_node_that_does_not_answer():
    talos = ScriptedTalos(machines(k8s_1="unreachable"), dry=True)
    step = bs.apply_node(talos, NODES[1], CONFIGS["k8s-1"], None, lambda _: None, timing(Clock()))
    assert step.outcome == bs.PLANNED


# -- waiting for the install --------------------------------------------------------------------------

def test_wait_until_every_node_left_maintenance():
    clock = Clock()
    talos = ScriptedTalos(machines(), install_looks=3)
    for node in NODES:
        talos.apply_config(node.address, CONFIGS[node.name])
    log = bs.StepLog()
    bs.wait_left_maintenance(talos, NODES, log, timing=timing(clock, poll=5), dry=False)
    assert log.steps[-1].outcome == bs.DONE
    assert clock.sleeps == [5, 5, 5]  # three looks find the nodes installing, the fourth configured


def test_a_long_install_wait_says_how_long_it_has_lasted():
    clock = Clock()
    talos = ScriptedTalos(machines(), install_looks=40)  # 40 looks, 5 s apart: over three minutes
    for node in NODES:
        talos.apply_config(node.address, CONFIGS[node.name])
    heard: list[str] = []
    bs.wait_left_maintenance(talos, NODES, bs.StepLog(heard.append), timing=timing(clock, poll=5), dry=False)
    beats = [line for line in heard if line.startswith("still waiting for nodes to leave maintenance mode")]
    assert beats[:2] == ["still waiting for nodes to leave maintenance mode (30s): k8s-0, k8s-1, k8s-2",
                         "still waiting for nodes to leave maintenance mode (1m00s): k8s-0, k8s-1, k8s-2"], heard
    assert len(beats) == int(clock.now // 30)


def test_wait_gives_up_at_the_deadline_naming_the_nodes_still_installing():
    clock = Clock()
    talos = ScriptedTalos(machines(), install_looks=1000)
    talos.apply_config("10.0.0.12", CONFIGS["k8s-1"])
    talos.machines["10.0.0.11"].stage = "running"
    talos.machines["10.0.0.13"].stage = "running"
    with pytest.raises(bs.BootstrapTimeout) as raised:
        bs.wait_left_maintenance(talos, NODES, bs.StepLog(), timing=timing(clock, poll=5, install_timeout=30),
                                 dry=False)
    message = str(raised.value)
    assert "within 30s" in message and "k8s-1 (10.0.0.12)" in message and "k8s-0" not in message
    assert "re-run `inv bootstrap.talos`" in message
    assert 30 <= clock.now <= 35


# -- etcd bootstrap -------------------------------------------------------------------------------------

def journal(tmp_path: Path, ex: Executor) -> Journal:
    return bs.bootstrap_journal(tmp_path, ex)


def test_the_record_of_an_earlier_versions_journal_is_carried_over(tmp_path):
    legacy = tmp_path / bs.LEGACY_JOURNAL_FILE
    legacy.parent.mkdir(parents=True)
    record = {"node": "k8s-0", "address": "10.0.0.11", "how": "bootstrapped", "at": "2026-01-02T03:04:05+00:00"}
    legacy.write_text(json.dumps({"etcd_bootstrap": record}))
    assert journal(tmp_path, Executor(dry=True)).recorded(bs.ETCD_BOOTSTRAP) == record
    assert legacy.is_file(), "a dry run leaves it"
    assert journal(tmp_path, Executor()).recorded(bs.ETCD_BOOTSTRAP) == record
    assert not legacy.exists()
    assert journal(tmp_path, Executor()).recorded(bs.ETCD_BOOTSTRAP) == record

    legacy.write_text("{not json")
    with pytest.raises(UnreadableJournal, match=r"^\.inv/bootstrap\.json cannot be read .*etcd members"):
        journal(tmp_path, Executor())


def test_bootstrap_once_and_recorded(tmp_path):
    talos = ScriptedTalos(machines(k8s_0="running"))
    step = bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(), timing=timing(Clock()),
                             dry=False)
    assert step.outcome == bs.DONE and talos.count("bootstrap") == 1
    assert journal(tmp_path, talos.ex).recorded(bs.ETCD_BOOTSTRAP)["node"] == "k8s-0"
    again = bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(), timing=timing(Clock()),
                              dry=False)
    assert again.outcome == bs.SKIPPED and "members: k8s-0" in again.detail
    assert talos.count("bootstrap") == 1


def test_already_exists_means_bootstrapped(tmp_path):
    talos = ScriptedTalos(machines(k8s_0="running"), bootstrap_answers=[(1, ALREADY)])
    step = bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(), timing=timing(Clock()),
                             dry=False)
    assert step.outcome == bs.SKIPPED and "already bootstrapped" in step.detail
    assert talos.count("bootstrap") == 1
    assert journal(tmp_path, talos.ex).recorded(bs.ETCD_BOOTSTRAP) is not None


def test_other_bootstrap_errors_are_retried_until_the_deadline(tmp_path):
    clock = Clock()
    talos = ScriptedTalos(machines(k8s_0="running"), bootstrap_answers=[(1, UNREACHABLE), (1, UNREACHABLE), (0, "")])
    progress: list[str] = []
    step = bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(progress.append),
                             timing=timing(clock, bootstrap_pause=10), dry=False)
    assert step.outcome == bs.DONE and talos.count("bootstrap") == 3 and clock.sleeps == [10, 10]
    assert any("retrying in 10s" in line for line in progress)

    talos = ScriptedTalos(machines(k8s_0="running"), bootstrap_answers=[(1, UNREACHABLE)] * 100)
    with pytest.raises(bs.BootstrapTimeout, match="kept failing for 30s"):
        bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path / "other", talos.ex), bs.StepLog(),
                          timing=timing(Clock(), bootstrap_pause=10, bootstrap_timeout=30), dry=False)


def test_a_recorded_bootstrap_is_never_sent_again_while_etcd_starts(tmp_path):
    clock = Clock()
    talos = ScriptedTalos(machines(k8s_0="running"))
    record = journal(tmp_path, talos.ex)
    record.record(bs.ETCD_BOOTSTRAP, node="k8s-0", address="10.0.0.11", how="bootstrapped")
    original_sleep = clock.sleep

    def etcd_comes_up(seconds: float) -> None:
        original_sleep(seconds)
        if clock.now >= 15:
            talos.members = ["k8s-0"]

    step = bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(),
                             timing=bs.Timing(sleep=etcd_comes_up, clock=clock, poll=5), dry=False)
    assert step.outcome == bs.SKIPPED and talos.count("bootstrap") == 0

    talos.members = []
    with pytest.raises(bs.BootstrapTimeout, match=r"delete \.inv/journal/bootstrap\.json"):
        bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(),
                          timing=timing(Clock(), poll=5, bootstrap_timeout=20), dry=False)
    assert talos.count("bootstrap") == 0


CONTROLLERS = [bs.ClusterNode(f"k8s-{i}", f"10.0.0.1{i + 1}", True, disk="/dev/sda") for i in range(3)]


def test_a_reinstalled_controller_joins_the_etcd_the_others_run_and_is_never_bootstrapped(tmp_path):
    clock = Clock()
    talos = ScriptedTalos({node.address: Machine("running") for node in CONTROLLERS},
                          etcd_members=["k8s-1", "k8s-2", "k8s-0"])
    talos.member_nodes = {"10.0.0.12", "10.0.0.13"}  # k8s-0 was reset and is joining: empty data

    def joins(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 15:
            talos.member_nodes.add("10.0.0.11")

    progress: list[str] = []
    step = bs.bootstrap_etcd(talos, CONTROLLERS, journal(tmp_path, talos.ex), bs.StepLog(progress.append),
                             timing=bs.Timing(sleep=joins, clock=clock, poll=5), dry=False, installed={"k8s-0"})
    assert talos.count("bootstrap") == 0
    assert step.outcome == bs.SKIPPED and "k8s-0 joined the existing etcd cluster" in step.detail
    assert clock.now >= 15 and any("waiting for k8s-0 to join" in line for line in progress)

    talos.member_nodes = {"10.0.0.12"}
    with pytest.raises(bs.BootstrapTimeout, match="did not join etcd within 20s"):
        bs.bootstrap_etcd(talos, CONTROLLERS, journal(tmp_path, talos.ex), bs.StepLog(),
                          timing=timing(Clock(), poll=5, bootstrap_timeout=20), dry=False, installed={"k8s-0"})
    assert talos.count("bootstrap") == 0

    plan = ScriptedTalos({node.address: Machine("running") for node in CONTROLLERS}, dry=True, etcd_members=["k8s-1"])
    plan.member_nodes = {"10.0.0.12"}
    step = bs.bootstrap_etcd(plan, CONTROLLERS, journal(tmp_path / "plan", plan.ex), bs.StepLog(),
                             timing=timing(Clock()), dry=True, installed={"k8s-0"})
    assert step.outcome == bs.SKIPPED and "would wait for k8s-0 to join" in step.detail
    assert plan.count("bootstrap") == 0


def test_without_etcd_anywhere_a_controller_configured_before_this_run_gets_the_bootstrap(tmp_path):
    """A controller that had etcd data refuses a bootstrap (AlreadyExists); the freshly installed
    one would accept it even though a cluster exists, so it is never the one asked."""
    talos = ScriptedTalos({node.address: Machine("running") for node in CONTROLLERS}, bootstrap_answers=[(1, ALREADY)])
    step = bs.bootstrap_etcd(talos, CONTROLLERS, journal(tmp_path, talos.ex), bs.StepLog(), timing=timing(Clock()),
                             dry=False, installed={"k8s-0"})
    assert [target for kind, target in talos.calls if kind == "bootstrap"] == ["10.0.0.12"]
    assert step.outcome == bs.SKIPPED and "already bootstrapped" in step.detail


def test_dry_run_plans_the_bootstrap_without_sending_it(tmp_path):
    talos = ScriptedTalos(machines(), dry=True)
    step = bs.bootstrap_etcd(talos, NODES[:1], journal(tmp_path, talos.ex), bs.StepLog(), timing=timing(Clock()),
                             dry=True)
    assert step.outcome == bs.PLANNED
    assert not (tmp_path / bs.JOURNAL_FILE).exists()


# -- preflight ------------------------------------------------------------------------------------------

def test_disk_matches_a_path_a_link_or_a_serial():
    disks = [{"dev_path": "/dev/nvme0n1", "serial": "S3F1NX0K900", "symlinks": ["/dev/disk/by-id/nvme-X"]}]
    assert bs.disk_matches("/dev/nvme0n1", disks)
    assert bs.disk_matches("/dev/disk/by-id/nvme-X", disks)
    assert bs.disk_matches("S3F1NX0K900", disks)
    assert not bs.disk_matches("/dev/sda", disks)
    assert not bs.disk_matches("S3F1NX0K901", disks)


def test_preflight_lists_every_problem_at_once(tmp_path):
    clock = Clock()
    talos = ScriptedTalos(machines(k8s_0="running", k8s_1="unreachable"))
    talos.machines["10.0.0.13"].disks = [{"dev_path": "/dev/sda", "serial": "OTHER", "pretty_size": "100 GB"}]
    with pytest.raises(bs.PreflightFailed) as raised:
        bs.preflight(tmp_path, talos.ex, nodes=NODES, timing=timing(clock), talosctl=talos)
    message = str(raised.value)
    assert "k8s-1 (10.0.0.12): not reachable" in message
    assert "k8s-2 (10.0.0.13): install disk S1 not found; disks: /dev/sda (serial OTHER, 100 GB)" in message
    assert "k8s-0" not in message  # configured: done, not a failure
    assert talos.count("probe", "10.0.0.12") == 3 and clock.sleeps == [2, 2]


def test_preflight_warns_about_some_unreachable_nodes_and_fails_when_none_answers(tmp_path):
    talos = ScriptedTalos(machines(k8s_1="unreachable"))
    progress: list[str] = []
    result = bs.preflight(tmp_path, talos.ex, nodes=NODES, timing=timing(Clock()), talosctl=talos,
                          progress=progress.append)
    assert [n.name for n in result.in_state("maintenance")] == ["k8s-0", "k8s-2"]
    assert result.warnings and any(line.startswith("warning: k8s-1") for line in progress)

    talos = ScriptedTalos(machines(k8s_0="unreachable", k8s_1="unreachable", k8s_2="unreachable"))
    with pytest.raises(bs.PreflightFailed, match="no node is reachable"):
        bs.preflight(tmp_path, talos.ex, nodes=NODES, timing=timing(Clock()), talosctl=talos)
