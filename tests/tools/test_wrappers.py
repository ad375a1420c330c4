"""The CLI wrappers against the fake talosctl (same argv and output formats as the real tool)."""

from __future__ import annotations

from cluster_template.run import Executor
from cluster_template.tools.output import json_stream, table
from cluster_template.tools.talosctl import Talosctl

from ..fakes.fixtures import fake_tools


def test_table_parsers():
    tabwriter = "NODE        ID   HOSTNAME\n10.0.0.11   ab   k8s-0\n10.0.0.12   cd   k8s-1\n"
    assert table(tabwriter) == [{"node": "10.0.0.11", "id": "ab", "hostname": "k8s-0"},
                                {"node": "10.0.0.12", "id": "cd", "hostname": "k8s-1"}]
    tablewriter = "NAMESPACE  \tNAME \tREADY\t\nflux-system\tapps \tFalse\t\n"
    assert table(tablewriter) == [{"namespace": "flux-system", "name": "apps", "ready": "False", "": ""}]
    assert json_stream('{\n "a": 1\n}\n{"b": [2]}') == [{"a": 1}, {"b": [2]}]


def test_talosctl_sees_maintenance_then_running(tmp_path):
    tools = fake_tools(tmp_path, controllers=1, workers=0)
    talosctl = Talosctl(Executor(env=tools.env), tmp_path / "talosconfig")
    assert talosctl.probe_stage("10.0.0.11").stage == "maintenance"
    assert talosctl.disks("10.0.0.11")[0]["dev_path"] == "/dev/sda"
    assert talosctl.probe_stage("10.0.0.99").stage == "unreachable"


def test_talosctl_reads_a_running_node(tmp_path):
    tools = fake_tools(tmp_path, controllers=1, workers=1, stage="running")
    tools.cluster.write_talosconfig(tmp_path / "talosconfig")
    talosctl = Talosctl(Executor(env=tools.env), tmp_path / "talosconfig")
    stage = talosctl.probe_stage("10.0.0.12")
    assert stage.stage == "running" and stage.ready
    assert talosctl.server_version("10.0.0.11") == "v1.12.11"
    assert len(talosctl.schematic("10.0.0.11")) == 64
    assert [m["hostname"] for m in talosctl.etcd_members("10.0.0.11")] == ["k8s-0"]
    assert talosctl.etcd_status("10.0.0.11")[0]["errors"] == ""
    assert talosctl.bootstrap("10.0.0.11").returncode != 0  # already bootstrapped


def test_dry_run_reports_changes_and_runs_reads(tmp_path):
    tools = fake_tools(tmp_path, controllers=1, workers=0)
    events = []
    ex = Executor(dry=True, env=tools.env, report=events.append)
    talosctl = Talosctl(ex, None)
    config = tmp_path / "node.yaml"
    config.write_text("version: v1alpha1\n")
    assert talosctl.apply_config("10.0.0.11", config, insecure=True).dry
    assert talosctl.probe_stage("10.0.0.11").stage == "maintenance"
    assert tools.cluster.node("10.0.0.11")["stage"] == "maintenance"
    assert events[0].describe().startswith("would run: talosctl apply-config --file")
    assert not tools.calls("talosctl", "apply-config")
