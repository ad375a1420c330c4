"""`inv talos.upgrade` against the simulated cluster and the fake Kubernetes API.

Overlap and timing are derived from the fakes' call log: every `talosctl upgrade --wait` runs from
the moment the node is told to upgrade until it is back, so its start/exit timestamps are the
node's upgrade window.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import INV, SCHEMA_DIR
from tests.fakes.cluster import VANILLA_SCHEMATIC, installer_image

from .conftest import TARGET, Day2, make_day2

JOURNAL = Path(".inv/journal/talos-upgrade.json")

# Every test runs `inv talos.upgrade` end to end, nodes taking real seconds to upgrade: 4-23 s each.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Window:
    address: str
    start: float
    end: float


def upgrade_windows(day2: Day2) -> list[Window]:
    """Start and end of every finished `talosctl upgrade` call, from the raw call log."""
    starts: dict[str, dict] = {}
    ends: dict[str, float] = {}
    for line in day2.tools.log_path.read_text().splitlines():
        record = json.loads(line)
        if record["event"] == "start" and record["tool"] == "talosctl" and "upgrade" in record["argv"]:
            starts[record["id"]] = record
        elif record["event"] == "exit" and record["id"] in starts:
            ends[record["id"]] = record["ts"]
    windows = []
    for call_id, record in starts.items():
        if call_id in ends:
            argv = record["argv"]
            windows.append(Window(argv[argv.index("--nodes") + 1], record["ts"], ends[call_id]))
    return sorted(windows, key=lambda window: window.start)


def max_overlap(windows: list[Window]) -> int:
    events = sorted([(w.start, 1) for w in windows] + [(w.end, -1) for w in windows], key=lambda e: (e[0], e[1]))
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def upgrade_counts(day2: Day2) -> dict[str, int]:
    return {node["hostname"]: node.get("upgrade_count", 0) for node in day2.cluster.nodes()}


def upgrade_calls(day2: Day2) -> list[str]:
    """Addresses of every `talosctl upgrade` call, in order."""
    return [call.argv[call.argv.index("--nodes") + 1] for call in day2.cluster.calls("talosctl", "upgrade")]


def _hold_and_release_worker_batches(day2: Day2, workers: set[str], run: threading.Thread, size: int,
                                     timeout: float = 120) -> list[list[str]]:
    """While `run` goes on, wait until `size` workers are rebooting at once (their upgrades last
    until released), record them and let them finish; returns the batches in order. A batch that
    never fills up is released after `timeout` seconds, so the run ends and the test can fail."""
    batches: list[list[str]] = []
    deadline = time.monotonic() + timeout
    while run.is_alive():
        rebooting = sorted(n["hostname"] for n in day2.cluster.nodes()
                           if n["ip"] in workers and n["stage"] == "rebooting")
        assert len(rebooting) <= size, f"more than --max-parallel workers in flight: {rebooting}"
        if len(rebooting) == size or (rebooting and time.monotonic() > deadline):
            batches.append(rebooting)
            with day2.cluster.edit() as state:
                for node in state["nodes"]:
                    if node["hostname"] in rebooting and node.get("pending"):
                        node["pending"]["at"] = time.time()
            deadline = time.monotonic() + timeout
        time.sleep(0.05)
    return batches


def test_rolling_upgrade_3_controllers_6_workers_max_parallel_3(tmp_path, fake_kube):
    """Deterministic: a worker's upgrade lasts until the test lets it finish, so the run can only go
    on by having --max-parallel workers in flight at once, and never more. (How much time the
    parallel run saves is measured by `bench/run.py upgrade`.)"""
    day2 = make_day2(tmp_path, controllers=3, workers=6, kube=fake_kube)
    controllers = set(day2.cluster.ips("controlplane"))
    workers = set(day2.cluster.ips()) - controllers
    for address in controllers:
        day2.cluster.set_upgrade_seconds(address, 0.3)
    for address in workers:
        day2.cluster.set_upgrade_seconds(address, 3600)  # until released below
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.update(result=day2.inv("talos.upgrade", "--max-parallel", "3",
                                                                           timeout=400)))
    run.start()
    batches = _hold_and_release_worker_batches(day2, workers, run, size=3)
    run.join()
    result = outcome["result"]

    assert result.returncode == 0, result.stdout + result.stderr
    assert [len(batch) for batch in batches] == [3, 3], batches
    assert sorted(name for batch in batches for name in batch) == [f"k8s-worker-{i}" for i in range(6)]
    assert set(upgrade_counts(day2).values()) == {1}, "every outdated node is upgraded exactly once"
    assert sorted(upgrade_calls(day2)) == sorted(day2.cluster.ips())
    assert {node["talos_version"] for node in day2.cluster.nodes()} == {TARGET}
    assert not any(node["cordoned"] for node in day2.cluster.nodes()), "every node is uncordoned again"

    windows = upgrade_windows(day2)
    controller_windows = [w for w in windows if w.address in controllers]
    worker_windows = [w for w in windows if w.address not in controllers]
    assert max_overlap(controller_windows) == 1, "controllers are upgraded strictly one at a time"
    assert max_overlap(worker_windows) == 3, "up to --max-parallel workers are in flight"
    assert max(w.end for w in controller_windows) <= min(w.start for w in worker_windows), \
        "no worker upgrades while a controller does"

    journal = json.loads((day2.root / JOURNAL).read_text())
    assert {entry["state"] for entry in journal["nodes"].values()} == {"done"}
    for name in ("k8s-0", "k8s-worker-5"):
        assert f"[{name}] done: {TARGET}" in result.stdout

    again = day2.inv("talos.upgrade", "--max-parallel", "3")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert set(upgrade_counts(day2).values()) == {1}


def test_failed_gate_stops_the_run_and_a_rerun_finishes_the_rest(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=3, workers=3, kube=fake_kube)
    for address in day2.cluster.ips():
        day2.cluster.set_upgrade_seconds(address, 0.4)
    sick = day2.node_ip("k8s-worker-2")

    # The fault appears while the first controller is rebooting, so the gate before the second
    # controller (`talosctl health`) is the first to see it.
    def inject() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if day2.cluster.node("k8s-0").get("upgrade_count"):
                day2.cluster.set_health_fail(sick)
                return
            time.sleep(0.02)

    injector = threading.Thread(target=inject)
    injector.start()
    first = day2.inv("talos.upgrade", "--max-parallel", "2", "--gate-timeout", "5")
    injector.join()

    assert first.returncode == 1, first.stdout + first.stderr
    assert "gate 'cluster healthy'" in first.stderr
    assert "kubelet to be healthy" in first.stderr and sick in first.stderr
    assert "`inv talos.upgrade --max-parallel 2 --gate-timeout 5` again" in first.stderr
    after_first = upgrade_counts(day2)
    assert after_first["k8s-0"] == 1
    assert after_first["k8s-worker-0"] == 0 and after_first["k8s-worker-2"] == 0
    not_upgraded = sorted(name for name, count in after_first.items() if count == 0)
    assert f"not upgraded yet: {', '.join(not_upgraded)}" in first.stderr
    calls_before = len(upgrade_calls(day2))

    day2.cluster.set_health_fail(sick, False)
    second = day2.inv("talos.upgrade", "--max-parallel", "2", "--gate-timeout", "5")

    assert second.returncode == 0, second.stdout + second.stderr
    assert set(upgrade_counts(day2).values()) == {1}, "no node upgraded twice"
    again = upgrade_calls(day2)[calls_before:]
    assert sorted(again) == sorted(day2.node_ip(name) for name in not_upgraded), "only the remaining nodes"
    assert "continuing the run recorded in .inv/journal/talos-upgrade.json" in second.stdout
    assert "already at the target: k8s-0" in second.stdout


def wait_until_no_process_works_in(root: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        working = []
        for cwd in Path("/proc").glob("[0-9]*/cwd"):
            try:
                working.append(cwd.resolve(strict=True) == root.resolve())
            except OSError:
                continue
        if not any(working):
            return
        time.sleep(0.05)
    raise AssertionError(f"processes still run in {root}")


def test_killed_run_resumes_without_upgrading_a_node_twice(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=3, workers=4, kube=fake_kube)
    for address in day2.cluster.ips():
        day2.cluster.set_upgrade_seconds(address, 1.0)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CLUSTER_TEMPLATE_SCHEMA_DIR": str(SCHEMA_DIR),
           **day2.tools.overrides}
    process = subprocess.Popen([INV, "talos.upgrade", "--max-parallel", "2"], cwd=day2.root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    workers = [node["ip"] for node in day2.cluster.nodes("worker")]
    deadline = time.monotonic() + 90
    try:
        # Kill the whole run (inv and its talosctl children) while the first workers reboot.
        while time.monotonic() < deadline and process.poll() is None:
            if any(day2.cluster.node(address).get("upgrade_count") for address in workers):
                time.sleep(0.2)
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run was killed mid-way"
    # talosctl runs in a process group of its own (so Ctrl-C reaches it gracefully): an upgrade it
    # had started outlives the killed run, as it would on a real machine. Count once they are gone.
    wait_until_no_process_works_in(day2.root)
    at_kill = upgrade_counts(day2)
    assert 0 < sum(at_kill.values()) < len(at_kill)
    journal = json.loads((day2.root / JOURNAL).read_text())
    left_in_progress = sorted(name for name, entry in journal["nodes"].items() if entry["state"] == "in-progress")
    assert left_in_progress, "a node was in flight when the run died"
    calls_before = len(upgrade_calls(day2))

    second = day2.inv("talos.upgrade", "--max-parallel", "2")

    assert second.returncode == 0, second.stdout + second.stderr
    assert set(upgrade_counts(day2).values()) == {1}, "no node upgraded twice"
    again = sorted(upgrade_calls(day2)[calls_before:])
    assert again == sorted(day2.node_ip(name) for name, count in at_kill.items() if count == 0)
    for name in left_in_progress:
        if at_kill[name]:
            assert f"[{name}] left in progress by an earlier run" in second.stdout
    assert {node["talos_version"] for node in day2.cluster.nodes()} == {TARGET}
    assert not any(node["cordoned"] for node in day2.cluster.nodes())


def test_resumed_nodes_count_as_down_until_they_are_finished(tmp_path, fake_kube):
    """What a killed `--max-parallel 2` run leaves: k8s-worker-0 upgraded and rebooted but still
    cordoned, k8s-worker-1 cordoned and drained but not upgraded, both `in-progress`. A fresh
    worker must not be gated on the cluster being healthy (it cannot be: two nodes are cordoned)
    before both resumed nodes are finished."""
    day2 = make_day2(tmp_path, controllers=1, workers=4, kube=fake_kube)
    image = installer_image(TARGET)
    resumed = {"k8s-worker-0": "verify", "k8s-worker-1": "drain"}
    with day2.cluster.edit() as state:
        for node in state["nodes"]:
            if node["hostname"] == "k8s-0" or node["hostname"] == "k8s-worker-0":
                node.update({"talos_version": TARGET, "installer_image": image})
            node["cordoned"] = node["hostname"] in resumed
    names = [node["hostname"] for node in day2.cluster.nodes()]
    journal = {"format": 1, "started": "2026-01-01T00:00:00Z",
               "target": {"talos_version": TARGET, "images": {name: image for name in names}},
               "nodes": {"k8s-0": {"state": "done", "step": "done"},
                         **{name: {"state": "in-progress", "step": step} for name, step in resumed.items()}}}
    (day2.root / JOURNAL).parent.mkdir(parents=True, exist_ok=True)
    (day2.root / JOURNAL).write_text(json.dumps(journal))

    result = day2.inv("talos.upgrade", "--max-parallel", "2")

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(upgrade_calls(day2)) == sorted(day2.node_ip(n) for n in ("k8s-worker-1", "k8s-worker-2",
                                                                          "k8s-worker-3"))
    assert "[k8s-worker-0] already runs" in result.stdout
    assert {node["talos_version"] for node in day2.cluster.nodes()} == {TARGET}
    assert not any(node["cordoned"] for node in day2.cluster.nodes())


def test_precheck_reports_every_problem_before_touching_any_node(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=3, kube=fake_kube)
    day2.cluster.set_unreachable(day2.node_ip("k8s-worker-0"))
    with day2.cluster.edit() as state:
        next(n for n in state["nodes"] if n["hostname"] == "k8s-worker-1")["cordoned"] = True

    result = day2.inv("talos.upgrade")

    assert result.returncode == 1
    assert "2 problem(s) found; nothing was changed" in result.stderr
    assert "k8s-worker-0 (10.0.0.12, worker): does not answer on the Talos API" in result.stderr
    assert "k8s-worker-1 (10.0.0.13, worker): cordoned outside an upgrade" in result.stderr
    assert upgrade_calls(day2) == []
    assert day2.api.writes() == [], "nothing was cordoned or evicted"
    assert not (day2.root / JOURNAL).exists()


def _edit_node(day2: Day2, name: str, **changes: object) -> None:
    with day2.cluster.edit() as state:
        next(n for n in state["nodes"] if n["hostname"] == name).update(changes)


def test_a_minor_version_skip_is_refused_naming_the_intermediate_release(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    _edit_node(day2, "k8s-worker-0", talos_version="v1.10.7")

    result = day2.inv("talos.upgrade")

    assert result.returncode == 1, result.stdout + result.stderr
    assert ("k8s-worker-0 (10.0.0.12, worker): runs v1.10.7; Talos upgrades one minor release at a time, so "
            f"{TARGET} is out of reach: first upgrade it to the latest v1.11 patch") in result.stderr
    assert "k8s-0" not in result.stderr.split("problem(s) found")[1], "a node one minor behind is fine"
    assert upgrade_calls(day2) == []


def test_a_node_without_a_factory_schematic_is_planned_onto_the_factory_image(tmp_path, fake_kube):
    """Installed from the plain installer (no Image Factory schematic extension): not a blocker,
    just a node whose image differs from the target."""
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    _edit_node(day2, "k8s-worker-0", talos_version=TARGET, schematic=None,
               installer_image=f"ghcr.io/siderolabs/installer:{TARGET}")

    plan = day2.inv("--dry", "talos.upgrade")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "k8s-worker-0 (10.0.0.12, worker): schematic none (not an Image Factory image) ->" in plan.stdout

    result = day2.inv("talos.upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert day2.cluster.node(day2.node_ip("k8s-worker-0"))["schematic"] == VANILLA_SCHEMATIC


def test_dry_run_lists_the_nodes_and_exits_2(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=2, kube=fake_kube)
    day2.cluster.set_upgrade_seconds(day2.node_ip("k8s-worker-1"), 0.1)
    subprocess.run(["talosctl", "--talosconfig", str(day2.root / "talos/clusterconfig/talosconfig"), "upgrade",
                    "--nodes", day2.node_ip("k8s-worker-1"), "--wait", "--image",
                    installer_image(TARGET)], env=day2.tools.env, check=True, capture_output=True)
    calls_before = len(upgrade_calls(day2))

    result = day2.inv("--dry", "talos.upgrade")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "would upgrade 2 node(s): k8s-0, k8s-worker-0" in result.stdout
    assert f"ok       k8s-worker-1 (10.0.0.13, worker): at {TARGET}" in result.stdout
    assert len(upgrade_calls(day2)) == calls_before
    assert not (day2.root / JOURNAL).exists()


def test_dry_run_reports_an_unhealthy_cluster_without_waiting_for_the_gate_deadline(tmp_path, fake_kube):
    """talosctl health polls until --wait-timeout (the fake too): a dry run must not hand it the
    gate's 300 s, only the short look of a plan."""
    from cluster_template.ops.gates import DRY_RUN_HEALTH_WAIT

    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    day2.cluster.set_health_fail(day2.node_ip("k8s-worker-0"))

    result = day2.inv("--dry", "talos.upgrade", timeout=DRY_RUN_HEALTH_WAIT + 60)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "cluster not healthy" in result.stderr
    health = day2.tools.calls("talosctl", "health")
    assert [call.argv[call.argv.index("--wait-timeout") + 1] for call in health] == [f"{DRY_RUN_HEALTH_WAIT:g}s"]


def test_drain_timeout_stops_and_uncordons(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    day2.api.add_pod("k8s-0", "web-0", "default")
    day2.api.refuse_evictions("default/web-0", times=1000)

    result = day2.inv("talos.upgrade", "--drain-timeout", "1")

    assert result.returncode == 1
    assert "drain failed" in result.stderr and "default/web-0" in result.stderr
    assert "--drain-timeout 1" in result.stderr
    assert upgrade_calls(day2) == []
    assert not day2.cluster.node("k8s-0")["cordoned"], "a node that was not upgraded is schedulable again"
    journal = json.loads((day2.root / JOURNAL).read_text())
    assert journal["nodes"]["k8s-0"]["state"] == "pending"
