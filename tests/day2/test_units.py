"""Unit tests of the day-2 building blocks: node selection, image references, gates, journal,
tasks.py rewriting and report tables."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest

from cluster_template.ops.gates import GateFailed, health_problem, poll
from cluster_template.ops.journal import DONE, IN_PROGRESS, Journal, UnreadableJournal
from cluster_template.ops.nodes import ClusterNode, Inventory, UnknownNode, image_schematic, image_version
from cluster_template.ops.report import Table, render_table
from cluster_template.ops.template_maintenance import TemplateChoreRefused, untemplated_tasks
from cluster_template.run import Executor

SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
REPO = Path(__file__).resolve().parents[2]

INVENTORY = Inventory((ClusterNode("k8s-0", "10.0.0.11", True), ClusterNode("k8s-1", "10.0.0.12", False),
                       ClusterNode("k8s-2", "10.0.0.13", False)))


def test_select_by_address_or_name():
    assert INVENTORY.select(ip="10.0.0.12").name == "k8s-1"
    assert INVENTORY.select(name="k8s-2").address == "10.0.0.13"
    assert INVENTORY.select(ip="10.0.0.11", name="k8s-0").controller


@pytest.mark.parametrize("ask", [{"ip": "10.0.0.99"}, {"name": "k8s-9"}, {"ip": "10.0.0.11", "name": "k8s-1"}, {}])
def test_unknown_node_lists_every_valid_one(ask):
    with pytest.raises(UnknownNode) as caught:
        INVENTORY.select(**ask)
    for node in INVENTORY.nodes:
        assert node.name in str(caught.value) and node.address in str(caught.value)


def test_installer_image_parts():
    image = f"factory.talos.dev/metal-installer-secureboot/{SCHEMATIC}:v1.12.2"
    assert image_version(image) == "v1.12.2"
    assert image_schematic(image) == SCHEMATIC
    assert image_schematic("ghcr.io/siderolabs/installer:v1.12.2") is None
    assert image_version("registry:5000/installer") is None
    node = ClusterNode("k8s-0", "10.0.0.11", True, image=image)
    assert (node.target_version, node.target_schematic) == ("v1.12.2", SCHEMATIC)


def test_health_problem_names_the_failed_check():
    stderr = ("discovered nodes: [\"10.0.0.11\"]\nwaiting for etcd to be healthy: ...\n"
              "waiting for etcd to be healthy: OK\nwaiting for all k8s nodes to report ready: "
              "some nodes are not ready: [k8s-1]\nrpc error: code = DeadlineExceeded desc = context deadline exceeded\n")
    assert health_problem(stderr).startswith("waiting for all k8s nodes to report ready: some nodes are not ready")
    assert health_problem("") == "talosctl health failed without a message"


def test_poll_waits_then_fails_with_the_last_complaint():
    answers = iter([(False, "first"), (False, "second")] + [(False, "last")] * 100)
    heard = []
    started = time.monotonic()
    with pytest.raises(GateFailed) as caught:
        poll(lambda: next(answers), gate="thing ready", subject="k8s-0", timeout=0.3, interval=0.05,
             on_wait=heard.append)
    assert time.monotonic() - started >= 0.3
    assert caught.value.detail == "last" and "gate 'thing ready' (k8s-0)" in str(caught.value)
    assert heard[:2] == ["waiting for thing ready: first", "waiting for thing ready: second"]
    answers = iter([(False, "not yet"), (True, "")])
    poll(lambda: next(answers), gate="g", subject="s", timeout=5, interval=0.01)


def test_poll_says_how_long_it_has_been_waiting_while_the_complaint_stays_the_same():
    heard: list[str] = []
    with pytest.raises(GateFailed):
        poll(lambda: (False, "etcd member k8s-1 is a learner"), gate="etcd healthy", subject="k8s-1", timeout=0.5,
             interval=0.02, on_wait=heard.append, heartbeat=0.15)
    assert heard[0] == "waiting for etcd healthy: etcd member k8s-1 is a learner"
    beats = heard[1:]
    assert len(beats) >= 2
    assert all(line == "still waiting for etcd healthy (k8s-1) (0s): etcd member k8s-1 is a learner"
               for line in beats), beats


def test_heartbeat_formats_elapsed_time_and_says_only_when_due():
    from cluster_template.heartbeat import Heartbeat, elapsed

    assert [elapsed(s) for s in (5, 130, 3725)] == ["5s", "2m10s", "1h02m"]
    now = [0.0]
    heard: list[str] = []
    pulse = Heartbeat("`tofu apply`", heard.append, 30, clock=lambda: now[0])
    assert not pulse.beat() and pulse.until_next() == 30
    now[0] = 130.0
    assert pulse.beat() and heard == ["still waiting for `tofu apply` (2m10s)"]
    now[0] = 131.0
    assert not pulse.beat() and pulse.until_next() == 29


def test_journal_resumes_the_same_target_and_restarts_for_another(tmp_path):
    ex = Executor()
    journal = Journal(tmp_path, ex, "talos-upgrade")
    assert journal.begin({"talos_version": "v1.12.2"}) is False
    journal.mark("k8s-0", DONE, step="done")
    journal.mark("k8s-1", IN_PROGRESS, step="upgrade", image="x")
    stored = json.loads((tmp_path / ".inv/journal/talos-upgrade.json").read_text())
    assert stored["nodes"]["k8s-1"]["step"] == "upgrade" and stored["nodes"]["k8s-1"]["image"] == "x"

    again = Journal(tmp_path, ex, "talos-upgrade")
    assert again.state("k8s-0") == DONE and again.state("k8s-1") == IN_PROGRESS and again.state("k8s-2") == "pending"
    assert again.begin({"talos_version": "v1.12.2"}) is True
    assert again.state("k8s-1") == IN_PROGRESS

    other = Journal(tmp_path, ex, "talos-upgrade")
    assert other.expect({"talos_version": "v1.12.2"}) is True and other.state("k8s-0") == DONE
    assert other.expect({"talos_version": "v1.12.3"}) is False
    assert other.state("k8s-0") == "pending", "states of a run towards another target are not used"
    assert json.loads((tmp_path / ".inv/journal/talos-upgrade.json").read_text())["target"] == \
        {"talos_version": "v1.12.2"}, "expect() writes nothing"
    assert other.begin({"talos_version": "v1.12.3"}) is False
    assert other.state("k8s-0") == "pending"


def test_journal_records_outlive_a_run_towards_another_target(tmp_path):
    ex = Executor()
    journal = Journal(tmp_path, ex, "bootstrap")
    assert journal.recorded("etcd_bootstrap") is None
    journal.record("etcd_bootstrap", node="k8s-0", how="bootstrapped")
    again = Journal(tmp_path, ex, "bootstrap")
    assert again.recorded("etcd_bootstrap")["node"] == "k8s-0"
    again.begin({"talos_version": "v1.12.2"})
    again.mark("k8s-0", DONE)
    assert again.expect({"talos_version": "v1.12.3"}) is False and again.state("k8s-0") == "pending"
    again.begin({"talos_version": "v1.12.3"})
    assert Journal(tmp_path, ex, "bootstrap").recorded("etcd_bootstrap")["how"] == "bootstrapped"
    again.forget("etcd_bootstrap")
    assert Journal(tmp_path, ex, "bootstrap").recorded("etcd_bootstrap") is None


@pytest.mark.parametrize("text", ["{not json", "[]", '{"format": 2, "nodes": {}}', '{"format": 1, "nodes": {"a": 1}}',
                                  '{"format": 1, "nodes": {}, "records": []}'])
def test_a_corrupt_journal_is_refused_with_its_path_and_the_recovery(tmp_path, text):
    path = tmp_path / ".inv/journal/bootstrap.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UnreadableJournal) as caught:
        Journal(tmp_path, Executor(), "bootstrap", recovery="check etcd, then delete it")
    assert str(caught.value).startswith(".inv/journal/bootstrap.json ")
    assert str(caught.value).endswith("; check etcd, then delete it")
    assert path.read_text() == text


def test_journal_dry_run_writes_nothing_and_corrupt_journal_is_refused(tmp_path):
    dry = Journal(tmp_path, Executor(dry=True), "talos-upgrade")
    dry.begin({"talos_version": "v1.12.2"})
    dry.mark("k8s-0", DONE)
    assert not (tmp_path / ".inv").exists()
    path = tmp_path / ".inv/journal/talos-upgrade.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(UnreadableJournal, match="delete it to start over"):
        Journal(tmp_path, Executor(), "talos-upgrade")


def test_untemplated_tasks_drops_the_template_wiring():
    text = (REPO / "tasks.py").read_text()
    rewritten = untemplated_tasks(text)
    assert "Collection.from_module(template)" in text
    assert "from_module(template)" not in rewritten
    assert "ns.add_task(core.init)" not in rewritten and "ns.add_task(core.configure)" not in rewritten
    assert "ns.add_task(core.validate)" in rewritten
    imported = {alias.name for node in ast.walk(ast.parse(rewritten)) if isinstance(node, ast.ImportFrom)
                and node.module == "tasks" for alias in node.names}
    assert {"core", "talos"} <= imported and "template" not in imported


def test_untemplated_tasks_refuses_what_it_cannot_rewrite():
    text = "from tasks import core, template\nns = Collection()\nns.add_task(template.vars)\n"
    with pytest.raises(TemplateChoreRefused, match="does not know how to remove"):
        untemplated_tasks(text)
    only = "from tasks import template  # noqa\nns.add_collection(Collection.from_module(template))\n"
    assert untemplated_tasks(only) == ""


def test_render_table_marks_bad_rows_and_says_why():
    table = Table("Flux Kustomizations", ("NAMESPACE", "NAME", "READY"))
    table.add("flux-system", "flux-system", "True")
    table.add("flux-system", "cluster-apps", "False", ok=False, reason="kustomize build failed")
    lines = render_table(table).splitlines()
    assert lines[0] == "== Flux Kustomizations"
    assert lines[2].startswith("  flux-system") and lines[3].startswith("✗ flux-system")
    assert lines[-1] == "  ✗ flux-system/cluster-apps: kustomize build failed"
    assert table.problems() == ["Flux Kustomizations: flux-system/cluster-apps: kustomize build failed"]
    assert table.to_dict()["rows"][1] == {"namespace": "flux-system", "name": "cluster-apps", "ready": "False",
                                          "ok": False, "reason": "kustomize build failed"}
