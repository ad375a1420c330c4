"""Tests of the fake CLIs themselves: state transitions, fault injection, argv contracts, output shapes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from . import fakecli, fakestate, fakeyaml
from .cluster import FakeCluster, installer_image, machine_config
from .fixtures import FakeTools, fake_tools

CP = "10.0.0.11"
CP2 = "10.0.0.12"
CP3 = "10.0.0.13"


def json_stream(text: str) -> list[dict]:
    """Decode talosctl's JSON output: indented objects one after another."""
    decoder = json.JSONDecoder()
    objects, position = [], 0
    while position < len(text.strip()):
        while text[position].isspace():
            position += 1
        value, position = decoder.raw_decode(text, position)
        objects.append(value)
    return objects


def write_config(tools: FakeTools, role: str = "controlplane", version: str = "v1.12.11",
                 hostname: str = "cp-1") -> Path:
    path = tools.root / f"{hostname}.yaml"
    path.write_text(machine_config(role, hostname, image=installer_image(version), cluster_name="home",
                                   endpoint=f"https://{CP}:6443", kubernetes_version="v1.35.0"))
    return path


@pytest.fixture
def maintenance(tmp_path: Path) -> FakeTools:
    return fake_tools(tmp_path, controllers=1, workers=1)


@pytest.fixture
def running(tmp_path: Path) -> FakeTools:
    tools = fake_tools(tmp_path, controllers=3, stage="running")
    tools.cluster.write_talosconfig(tools.root / "talosconfig")
    tools.env["TALOSCONFIG"] = str(tools.root / "talosconfig")
    return tools


# -- talosctl: install and bootstrap -------------------------------------------------------------------

def test_insecure_apply_installs_then_runs_with_the_configured_image(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=1, install_seconds=0.15)
    config = write_config(tools, version="v1.12.9")
    result = tools.run("talosctl", "apply-config", "--insecure", "--nodes", CP, "--file", str(config))
    assert result.returncode == 0, result.stderr
    node = tools.cluster.node(CP)
    assert node["stage"] == "installing"
    assert node["config_hash"]
    node = tools.cluster.wait_settled(1.0)["nodes"][0]
    assert node["stage"] == "running"
    assert node["talos_version"] == "v1.12.9"
    assert node["hostname"] == "cp-1"


def test_maintenance_and_configured_nodes_only_answer_their_own_api(maintenance: FakeTools) -> None:
    config = write_config(maintenance)
    secure = maintenance.run("talosctl", "get", "machinestatus", "-n", CP, "-e", CP)
    assert secure.returncode == 1
    assert "x509: certificate signed by unknown authority" in secure.stderr
    maintenance.run("talosctl", "apply-config", "-i", "-n", CP, "-f", str(config))
    again = maintenance.run("talosctl", "apply-config", "--insecure", "--nodes", CP, "--file", str(config))
    assert again.returncode == 1
    assert "tls: certificate required" in again.stderr


def test_maintenance_mode_refuses_no_reboot_mode(maintenance: FakeTools) -> None:
    config = write_config(maintenance)
    result = maintenance.run("talosctl", "apply-config", "--insecure", "-n", CP, "-f", str(config),
                             "--mode=no-reboot")
    assert result.returncode == 1
    assert "apply configuration --mode='no-reboot' is not supported in maintenance mode" in result.stderr
    assert maintenance.cluster.node(CP)["stage"] == "maintenance"


def test_apply_failure_injection_fails_n_times_then_succeeds(maintenance: FakeTools) -> None:
    maintenance.cluster.fail_apply(CP, times=2)
    config = write_config(maintenance)
    argv = ("talosctl", "apply-config", "--insecure", "--nodes", CP, "--file", str(config))
    outcomes = [maintenance.run(*argv) for _ in range(3)]
    assert [r.returncode for r in outcomes] == [1, 1, 0]
    assert "code = Unavailable" in outcomes[0].stderr
    assert maintenance.cluster.node(CP)["apply_failures_remaining"] == 0
    assert len(maintenance.calls("talosctl", "apply-config")) == 3


def test_dry_run_changes_nothing_and_prints_a_diff(running: FakeTools) -> None:
    before = running.cluster.node(CP)["config_hash"]
    config = write_config(running, hostname="k8s-0")
    result = running.run("talosctl", "apply-config", "-n", CP, "-f", str(config), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Dry run summary:" in result.stderr
    assert "--- a\n+++ b\n" in result.stderr
    assert running.cluster.node(CP)["config_hash"] == before


def test_bootstrap_twice_fails_with_already_exists(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=1)
    config = write_config(tools)
    tools.run("talosctl", "apply-config", "--insecure", "-n", CP, "-f", str(config))
    talosconfig = tools.cluster.write_talosconfig(tools.root / "talosconfig")
    first = tools.run("talosctl", "--talosconfig", str(talosconfig), "bootstrap", "--nodes", CP)
    second = tools.run("talosctl", "--talosconfig", str(talosconfig), "bootstrap", "--nodes", CP)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    assert second.stderr.startswith("error executing bootstrap: 1 error occurred:")
    assert "code = AlreadyExists desc = etcd data directory is not empty" in second.stderr
    assert tools.cluster.read()["etcd"]["members"][0]["hostname"] == "cp-1"


def test_get_json_is_a_stream_of_node_metadata_spec_objects(maintenance: FakeTools) -> None:
    result = maintenance.run("talosctl", "get", "disks", "--insecure", "-n", CP, "-o", "json")
    objects = json_stream(result.stdout)
    assert objects and all(sorted(o) == ["metadata", "node", "spec"] for o in objects)
    assert objects[0]["node"] == ""  # the maintenance client sets no node metadata
    assert objects[0]["metadata"]["type"] == "Disks.block.talos.dev"
    assert objects[0]["spec"]["dev_path"] == "/dev/sda"
    denied = maintenance.run("talosctl", "get", "machineconfig", "--insecure", "-n", CP, "-o", "json")
    assert denied.returncode == 1
    assert "PermissionDenied desc = not authorized" in denied.stderr


def test_get_yaml_and_jsonpath_on_a_running_node(running: FakeTools) -> None:
    documents = fakeyaml.load_all(running.run("talosctl", "get", "machinestatus", "-n", f"{CP},{CP2}",
                                              "-o", "yaml").stdout)
    assert [d["node"] for d in documents] == [CP, CP2]
    assert documents[0]["spec"]["stage"] == "running"
    stage = running.run("talosctl", "get", "version", "-n", CP, "-o", "jsonpath={.spec.version}")
    assert stage.stdout == "v1.12.11\n"


# -- talosctl: day 2 ------------------------------------------------------------------------------

def test_upgrade_keeps_the_node_rebooting_for_upgrade_seconds(running: FakeTools) -> None:
    # Long enough that the next talosctl call still finds the node rebooting on a loaded machine.
    running.cluster.set_upgrade_seconds(CP2, 2.0)
    image = installer_image("v1.12.12", "a" * 64)
    started = time.monotonic()
    result = running.run("talosctl", "upgrade", "-n", CP2, "--image", image, "--wait=false")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("NODE")
    node = running.cluster.node(CP2)
    assert (node["stage"], node["talos_version"], node["cordoned"]) == ("rebooting", "v1.12.11", True)
    unavailable = running.run("talosctl", "get", "version", "-n", CP2, "-e", CP)
    assert "connection refused" in unavailable.stderr
    node = running.cluster.wait_settled(10.0)["nodes"][1]
    assert time.monotonic() - started >= 2.0
    assert (node["stage"], node["talos_version"], node["schematic"]) == ("running", "v1.12.12", "a" * 64)
    assert node["installer_image"] == image and not node["cordoned"]


def test_upgrade_with_wait_returns_after_the_reboot(running: FakeTools) -> None:
    running.cluster.set_upgrade_seconds(CP, 0.25)
    started = time.monotonic()
    result = running.run("talosctl", "upgrade", "-n", CP, "--image", installer_image("v1.12.12"), "--timeout", "5s")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 0.25
    assert "post check passed" in result.stderr
    assert running.cluster.node(CP)["talos_version"] == "v1.12.12"


def test_control_plane_upgrade_refused_while_etcd_is_unhealthy(running: FakeTools) -> None:
    running.cluster.set_health_fail(CP3)
    refused = running.run("talosctl", "upgrade", "-n", CP, "--image", installer_image("v1.12.12"), "--wait=false")
    assert refused.returncode == 1
    assert "error validating etcd for upgrade" in refused.stderr
    forced = running.run("talosctl", "upgrade", "-n", CP, "--image", installer_image("v1.12.12"), "--wait=false",
                         "--force")
    assert forced.returncode == 0, forced.stderr


def test_health_and_etcd_status_report_injected_unhealthiness(running: FakeTools) -> None:
    assert running.run("talosctl", "health", "-n", CP, "--wait-timeout", "2s").returncode == 0
    running.cluster.set_health_fail(CP2)
    started = time.monotonic()
    health = running.run("talosctl", "health", "-n", CP, "--wait-timeout", "1s")
    assert health.returncode == 1 and time.monotonic() - started >= 1  # it waited, as talosctl does
    assert f'{CP2}: service "etcd" not in expected state' in health.stderr
    status = running.run("talosctl", "etcd", "status", "-n", f"{CP},{CP2}")
    rows = status.stdout.splitlines()
    assert rows[0].split()[:2] == ["NODE", "MEMBER"]
    assert all(row.endswith("etcdserver: no leader") for row in rows[1:])


def test_kubeconfig_points_at_the_fake_api_url(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=1, stage="running", kube_api_url="http://127.0.0.1:8123")
    talosconfig = tools.cluster.write_talosconfig(tools.root / "talosconfig")
    target = tools.root / "out"
    target.mkdir()
    result = tools.run("talosctl", "kubeconfig", str(target), "--nodes", CP, "--force",
                       "--talosconfig", str(talosconfig))
    assert result.returncode == 0, result.stderr
    config = fakeyaml.load((target / "kubeconfig").read_text())
    assert config["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:8123"
    assert config["current-context"] == "admin@kubernetes"


STALE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: old
  cluster:
    server: https://10.9.9.9:6443
users:
- name: admin@old
  user:
    token: old-token
contexts:
- name: admin@old
  context:
    cluster: old
    user: admin@old
current-context: admin@old
"""


def test_kubeconfig_merges_into_an_existing_file_unless_merge_is_false(running: FakeTools) -> None:
    """As talosctl does: by default (--merge) the file gains the cluster's entries beside the ones
    it had, --force only overwrites same-named ones; --merge=false refuses an existing file
    without --force and replaces it with it."""
    target = running.root / "kubeconfig"
    target.write_text(STALE_KUBECONFIG)
    assert running.run("talosctl", "kubeconfig", str(target), "-n", CP, "--force").returncode == 0
    merged = fakeyaml.load(target.read_text())
    assert {c["name"] for c in merged["contexts"]} == {"admin@old", "admin@kubernetes"}
    target.write_text(STALE_KUBECONFIG)
    refused = running.run("talosctl", "kubeconfig", str(target), "-n", CP, "--merge=false")
    assert refused.returncode == 1 and "already exists, use --force to overwrite" in refused.stderr
    assert target.read_text() == STALE_KUBECONFIG
    assert running.run("talosctl", "kubeconfig", str(target), "-n", CP, "--force", "--merge=false").returncode == 0
    replaced = fakeyaml.load(target.read_text())
    assert [c["name"] for c in replaced["contexts"]] == ["admin@kubernetes"] and "old-token" not in target.read_text()


def test_reset_returns_a_node_to_maintenance_and_only_a_graceful_one_leaves_etcd(running: FakeTools) -> None:
    result = running.run("talosctl", "reset", "-n", CP3, "--graceful=false", "--reboot", "--wait=false",
                         "--system-labels-to-wipe", "STATE", "--system-labels-to-wipe", "EPHEMERAL")
    assert result.returncode == 0, result.stderr
    state = running.cluster.wait_settled(1.0)
    node = state["nodes"][2]
    assert (node["stage"], node["config_hash"], node["etcd_data"]) == ("maintenance", None, None)
    assert node["last_reset"]["labels"] == ["STATE", "EPHEMERAL"]
    # Talos leaves etcd only in a graceful reset: the wiped node's member stays, and etcd has lost
    # its fault tolerance.
    assert "k8s-2" in [m["hostname"] for m in state["etcd"]["members"]] and not state["etcd"]["healthy"]

    result = running.run("talosctl", "reset", "-n", CP2, "--reboot", "--wait=false",
                         "--system-labels-to-wipe", "STATE", "--system-labels-to-wipe", "EPHEMERAL")
    assert result.returncode == 0, result.stderr
    state = running.cluster.wait_settled(1.0)
    assert "k8s-1" not in [m["hostname"] for m in state["etcd"]["members"]]


def test_bootstrap_is_refused_only_by_the_nodes_own_etcd_data(tmp_path: Path) -> None:
    """Talos checks the local data directory alone: a controller that has not joined yet (or was
    wiped) accepts a bootstrap although another etcd cluster runs, and then two clusters exist."""
    tools = fake_tools(tmp_path, controllers=3, stage="running", etcd_join_seconds=30.0)
    talosconfig = tools.cluster.write_talosconfig(tools.root / "talosconfig")
    refused = tools.run("talosctl", "--talosconfig", str(talosconfig), "bootstrap", "-n", CP)
    assert refused.returncode == 1
    assert f"{CP}: rpc error: code = AlreadyExists desc = etcd data directory is not empty" in refused.stderr
    with tools.cluster.edit() as state:
        node = fakestate.find_node(state, CP3)
        node.update({"stage": "maintenance", "config": None, "config_hash": None, "etcd_data": None})
    config = tools.root / "cp3.yaml"
    config.write_text(machine_config("controlplane", "k8s-2", image=installer_image("v1.12.11"),
                                     cluster_name="kubernetes", endpoint=f"https://{CP}:6443",
                                     kubernetes_version="v1.35.0"))
    assert tools.run("talosctl", "apply-config", "--insecure", "-n", CP3, "-f", str(config)).returncode == 0
    tools.cluster.wait_settled(2.0)
    members = tools.run("talosctl", "--talosconfig", str(talosconfig), "etcd", "members", "-n", CP3)
    assert members.returncode == 1 and "context deadline exceeded" in members.stderr  # still joining
    accepted = tools.run("talosctl", "--talosconfig", str(talosconfig), "bootstrap", "-n", CP3)
    assert accepted.returncode == 0, accepted.stderr
    assert sorted(map(sorted, tools.cluster.etcd_clusters().values())) == [["k8s-0", "k8s-1"], ["k8s-2"]]
    health = tools.run("talosctl", "--talosconfig", str(talosconfig), "health", "-n", CP, "--wait-timeout", "1s")
    assert "etcd members to be consistent across nodes" in health.stderr and health.returncode == 1


def test_a_wiped_controller_rejoins_after_the_join_delay_replacing_its_stale_member(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=3, stage="running", etcd_join_seconds=3.0)
    talosconfig = tools.cluster.write_talosconfig(tools.root / "talosconfig")
    with tools.cluster.edit() as state:
        fakestate.find_node(state, CP3)["etcd_data"] = None  # wiped, reinstalled, running again
    assert tools.run("talosctl", "--talosconfig", str(talosconfig), "etcd", "members", "-n", CP3).returncode == 1
    deadline = time.monotonic() + 15
    while not tools.cluster.node(CP3)["etcd_data"]:
        assert time.monotonic() < deadline, "the controller never joined"
        time.sleep(0.1)
    members = tools.run("talosctl", "--talosconfig", str(talosconfig), "etcd", "members", "-n", CP3)
    assert members.returncode == 0, members.stderr
    state = tools.cluster.read()
    assert [m["hostname"] for m in state["etcd"]["members"]] == ["k8s-0", "k8s-1", "k8s-2"]
    assert list(tools.cluster.etcd_clusters().values()) == [["k8s-0", "k8s-1", "k8s-2"]]


def test_hang_and_unreachable_faults(running: FakeTools) -> None:
    running.cluster.set_hang(CP2, 0.3)
    started = time.monotonic()
    running.run("talosctl", "get", "version", "-n", CP2)
    assert time.monotonic() - started >= 0.3
    running.cluster.set_unreachable(CP3)
    result = running.run("talosctl", "get", "version", "-n", CP3)
    assert result.returncode == 1 and "no route to host" in result.stderr


def test_a_client_unreachable_node_answers_only_through_another_endpoint(running: FakeTools) -> None:
    running.cluster.set_client_unreachable(CP2)
    direct = running.run("talosctl", "etcd", "members", "-n", CP2, "-e", CP2)
    assert direct.returncode == 1 and "no route to host" in direct.stderr
    insecure = running.run("talosctl", "get", "machinestatus", "--insecure", "-n", CP2)
    assert insecure.returncode == 1 and "no route to host" in insecure.stderr
    proxied = running.run("talosctl", "etcd", "members", "-n", CP2, "-e", f"{CP2},{CP}")
    assert proxied.returncode == 0, proxied.stderr
    assert "k8s-1" in proxied.stdout


def test_concurrent_processes_share_the_state_safely(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=3)
    config = write_config(tools)
    processes = [subprocess.Popen(["talosctl", "apply-config", "--insecure", "-n", ip, "-f", str(config)],
                                  env=tools.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for ip in (CP, CP2, CP3)]
    assert [p.wait(timeout=10) for p in processes] == [0, 0, 0]
    assert all(n["config_hash"] for n in tools.cluster.nodes())


# -- argv contracts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["talosctl", "get", "links", "--bogus"], "unknown flag: --bogus"),
    (["talosctl", "etcd", "statuss"], 'unknown command "statuss" for "talosctl etcd"'),
    (["talosctl", "bootstrap", "extra"], 'unknown command "extra" for "talosctl bootstrap"'),
    (["flux", "get", "ks", "-o", "json"], "✗ unknown shorthand flag: 'o' in -o"),
    (["helmfile", "sync", "--bogus"], "unknown flag: --bogus"),
    (["tofu", "plan", "-bogus"], "flag provided but not defined: -bogus"),
    (["tofu", "bogus"], 'OpenTofu has no command named "bogus"'),
])
def test_unknown_flags_and_commands_fail(maintenance: FakeTools, argv: list[str], expected: str) -> None:
    result = maintenance.run(*argv)
    assert result.returncode == 1
    assert expected in result.stderr


def test_talosctl_usage_errors_print_the_usage(maintenance: FakeTools) -> None:
    result = maintenance.run("talosctl", "get")
    assert result.stderr.startswith("accepts between 1 and 2 arg(s), received 0\n\nUsage:\n  talosctl get")


def test_call_log_records_argv_cwd_and_exit_codes(maintenance: FakeTools) -> None:
    maintenance.run("talosctl", "version", "--client", extra_env={"TALOSCONFIG": "/x/talosconfig"})
    maintenance.run("talosctl", "--nope")
    calls = maintenance.calls("talosctl")
    assert [c.argv for c in calls] == [("version", "--client"), ("--nope",)]
    assert [c.returncode for c in calls] == [0, 1]
    assert calls[0].cwd == str(maintenance.root)
    assert "FAKE_CLUSTER_STATE" in calls[0].env_keys
    assert calls[0].settings == {"TALOSCONFIG": "/x/talosconfig"}


def test_tool_hang_delays_every_call_of_a_tool(maintenance: FakeTools) -> None:
    maintenance.cluster.set_tool_hang("flux", 0.3)
    with pytest.raises(subprocess.TimeoutExpired):
        maintenance.run("flux", "version", "--client", timeout=0.2)
    started = time.monotonic()
    assert maintenance.run("tofu", "version").returncode == 0
    assert time.monotonic() - started < 0.3


# -- flux ------------------------------------------------------------------------------------------------

def test_flux_needs_a_kubeconfig_and_reports_not_ready_kustomizations(running: FakeTools) -> None:
    assert "no configuration has been provided" in running.run("flux", "check", "--pre").stderr
    kubeconfig = running.root / "admin.kubeconfig"
    assert running.run("talosctl", "kubeconfig", str(kubeconfig), "-n", CP).returncode == 0
    running.env["KUBECONFIG"] = str(kubeconfig)
    running.cluster.set_kustomization("cluster-apps", ready=False, message="kustomize build failed: boom")
    table = running.run("flux", "get", "kustomizations", "-A", "--status-selector", "ready=false")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"]
    assert [line.split("\t")[1].strip() for line in lines[1:]] == ["cluster-apps"]
    failed = running.run("flux", "reconcile", "kustomization", "cluster-apps", "--with-source", "-n", "flux-system")
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == "✗ Kustomization reconciliation failed: kustomize build failed: boom"
    assert "✔ fetched revision" in failed.stderr


def test_flux_version_client(maintenance: FakeTools) -> None:
    assert maintenance.run("flux", "version", "--client").stdout == "flux: v2.7.5\n"


# -- helmfile --------------------------------------------------------------------------------------------

APPS = """---
releases:
  - name: coredns
    namespace: kube-system
    chart: oci://ghcr.io/coredns/charts/coredns
    version: 1.45.0
    needs: ['kube-system/cilium']
  - name: cilium
    namespace: kube-system
    chart: oci://ghcr.io/home-operations/charts-mirror/cilium
    version: 1.19.0
  - name: flux-instance
    namespace: flux-system
    chart: oci://ghcr.io/controlplaneio-fluxcd/charts/flux-instance
    version: 0.38.1
    needs: ['kube-system/coredns']
"""


def test_helmfile_template_emits_one_crd_per_release(maintenance: FakeTools) -> None:
    (maintenance.root / "crds.yaml").write_text(APPS)
    result = maintenance.run("helmfile", "--file", "crds.yaml", "template", "--quiet")
    documents = fakeyaml.load_all(result.stdout)
    assert [d["kind"] for d in documents] == ["CustomResourceDefinition"] * 3
    assert [d["metadata"]["labels"]["app.kubernetes.io/instance"] for d in documents] == \
        ["cilium", "coredns", "flux-instance"]
    assert result.stdout == maintenance.run("helmfile", "-f", "crds.yaml", "template", "-q").stdout


def test_helmfile_sync_follows_needs_and_installs_cni_and_flux(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=1, stage="running")
    with tools.cluster.edit() as state:
        state["cluster"]["cni_ready"] = False
        state["flux"] = {"installed": False, "kustomizations": [], "helmreleases": [], "gitrepositories": []}
    (tools.root / "apps.yaml").write_text(APPS)
    assert not tools.cluster.node(CP)["kubernetes_ready"]
    unreachable = tools.run("helmfile", "--file", "apps.yaml", "sync")
    assert unreachable.returncode == 1 and "Kubernetes cluster unreachable" in unreachable.stderr
    tools.use_kubeconfig()
    result = tools.run("helmfile", "--file", "apps.yaml", "sync", "--hide-notes")
    assert result.returncode == 0, result.stderr
    assert tools.cluster.synced_releases() == ["kube-system/cilium", "kube-system/coredns", "flux-system/flux-instance"]
    state = tools.cluster.read()
    assert state["nodes"][0]["kubernetes_ready"] and state["flux"]["installed"]


def test_helmfile_sync_failure_skips_dependents_and_undefined_needs_fail(tmp_path: Path) -> None:
    tools = fake_tools(tmp_path, controllers=1, stage="running")
    tools.use_kubeconfig()
    tools.cluster.fail_release("coredns", "timed out waiting for the condition")
    (tools.root / "apps.yaml").write_text(APPS)
    failed = tools.run("helmfile", "--file", "apps.yaml", "sync")
    assert failed.returncode == 1
    assert "failed processing release coredns" in failed.stderr
    assert tools.cluster.synced_releases() == ["kube-system/cilium"]
    (tools.root / "typo.yaml").write_text(APPS.replace("kube-system/cilium", "kube-system/cillium"))
    typo = tools.run("helmfile", "--file", "typo.yaml", "sync")
    assert 'depend(s) on an undefined release "kube-system/cillium"' in typo.stderr


# -- tofu ------------------------------------------------------------------------------------------------

BACKEND = 'terraform {\n  backend "http" {\n    address = "https://tfstate.example.com/states/proxmox"\n  }\n}\n'


@pytest.fixture
def infra(tmp_path: Path) -> tuple[FakeTools, Path, dict[str, str]]:
    tools = fake_tools(tmp_path, controllers=1)
    directory = tools.root / "tofu"
    directory.mkdir()
    (directory / "backend.tf").write_text(BACKEND)
    tools.cluster.set_tofu(desired=['proxmox_virtual_environment_vm.node["k8s-0"]'],
                           desired_outputs={"talos_nodes": ["10.0.0.11"]})
    secrets = {"TF_HTTP_USERNAME": "terraform", "TF_HTTP_PASSWORD": "hunter2-long-password",
               "TF_VAR_proxmox_api_token_secret": "token-value-123"}
    return tools, directory, secrets


def test_tofu_needs_the_state_backend_password_and_logs_only_hashes(infra) -> None:
    tools, directory, secrets = infra
    denied = tools.run("tofu", "init", "-input=false", "-no-color", cwd=directory)
    assert denied.returncode == 1
    assert "HTTP remote state endpoint requires auth" in denied.stderr
    assert tools.run("tofu", "init", "-input=false", cwd=directory, extra_env=secrets).returncode == 0
    log_text = tools.log_path.read_text()
    assert "hunter2-long-password" not in log_text and "token-value-123" not in log_text
    call = tools.calls("tofu", "init")[-1]
    assert set(call.secret_env) == set(call.env_keys) == set(secrets)
    assert len(call.secret_env["TF_HTTP_PASSWORD"]) == 64


def test_tofu_plan_apply_output_cycle(infra) -> None:
    tools, directory, secrets = infra
    assert tools.run("tofu", "apply", "-auto-approve", cwd=directory, extra_env=secrets).returncode == 1  # no init
    tools.run("tofu", "init", cwd=directory, extra_env=secrets)
    plan = tools.run("tofu", "plan", "-out=tfplan", "-detailed-exitcode", cwd=directory, extra_env=secrets)
    assert plan.returncode == 2 and "Plan: 1 to add, 0 to change, 0 to destroy." in plan.stdout
    assert (directory / "tfplan").is_file()
    applied = tools.run("tofu", "apply", "tfplan", cwd=directory, extra_env=secrets)
    assert applied.returncode == 0, applied.stderr
    stale = tools.run("tofu", "apply", "tfplan", cwd=directory, extra_env=secrets)
    assert "Saved plan is stale" in stale.stderr
    outputs = json.loads(tools.run("tofu", "output", "-json", cwd=directory, extra_env=secrets).stdout)
    assert outputs["talos_nodes"]["value"] == ["10.0.0.11"]


def test_tofu_plan_file_keeps_variable_values_except_ephemeral_ones(infra) -> None:
    """As OpenTofu's planfile (and Terraform's, checked in tests/infra with the real binary): a
    sensitive variable's value is stored in the clear, an ephemeral one's is not and must be given
    again to apply the plan."""
    tools, directory, secrets = infra
    (directory / "variables.tf").write_text(
        'variable "proxmox_api_token_secret" {\n  type      = string\n  sensitive = true\n}\n')
    tools.run("tofu", "init", cwd=directory, extra_env=secrets)
    assert tools.run("tofu", "plan", "-out=tfplan", cwd=directory, extra_env=secrets).returncode == 0
    assert "token-value-123" in (directory / "tfplan").read_text()

    (directory / "variables.tf").write_text('variable "proxmox_api_token_secret" {\n  type      = string\n'
                                            '  sensitive = true\n  ephemeral = true\n}\n')
    assert tools.run("tofu", "plan", "-out=tfplan", cwd=directory, extra_env=secrets).returncode == 0
    assert "token-value-123" not in (directory / "tfplan").read_text()
    without = {name: value for name, value in secrets.items() if not name.startswith("TF_VAR_")}
    refused = tools.run("tofu", "apply", "tfplan", cwd=directory, extra_env=without)
    assert refused.returncode == 1 and 'ephemeral input variable "proxmox_api_token_secret"' in refused.stderr
    assert tools.run("tofu", "apply", "tfplan", cwd=directory, extra_env=secrets).returncode == 0


def test_tofu_apply_requires_the_plan_file_and_force_unlock_clears_a_lock(infra) -> None:
    tools, directory, secrets = infra
    tools.run("tofu", "init", cwd=directory, extra_env=secrets)
    missing = tools.run("tofu", "apply", "tfplan", cwd=directory, extra_env=secrets)
    assert missing.returncode == 1 and 'Failed to load "tfplan" as a plan file' in missing.stderr
    tools.cluster.set_tofu(lock={"ID": "lock-1", "Who": "ci@runner"})
    locked = tools.run("tofu", "plan", cwd=directory, extra_env=secrets)
    assert "HTTP remote state already locked: ID=lock-1" in locked.stderr
    unlocked = tools.run("tofu", "force-unlock", "-force", "lock-1", cwd=directory, extra_env=secrets)
    assert unlocked.returncode == 0 and tools.cluster.read()["tofu"]["lock"] is None


def test_tofu_fmt_check_and_version(infra) -> None:
    tools, directory, _ = infra
    (directory / "main.tf").write_text('resource "x" "y" {  \n}\n')
    check = tools.run("tofu", "fmt", "-check", "-recursive", cwd=directory)
    assert (check.returncode, check.stdout) == (3, "main.tf\n")
    assert tools.run("tofu", "version").stdout.startswith("OpenTofu v1.11")


# -- helpers -----------------------------------------------------------------------------------------

def test_cli_parser_accepts_pflag_forms() -> None:
    root = fakecli.Command("tool", persistent=[fakecli.Flag("nodes", "strings", "n")]).add(
        fakecli.Command("go", run=lambda p: 0, args=(0, 1), flags=[
            fakecli.Flag("wait", "bool", default=True), fakecli.Flag("timeout", "duration", default=60.0),
            fakecli.Flag("out", "string", "o")]))
    parsed = fakecli.parse(root, ["-n", "a,b", "go", "--nodes=c", "--wait=false", "--timeout", "1m30s", "-ojson", "x"])
    assert parsed["nodes"] == ["a", "b", "c"]
    assert (parsed["wait"], parsed["timeout"], parsed["out"], parsed.args) == (False, 90.0, "json", ["x"])
    with pytest.raises(fakecli.CliError, match="accepts at most 1 arg"):
        fakecli.parse(root, ["go", "x", "y"])


def test_yaml_reader_handles_the_helmfile_and_talosconfig_subset() -> None:
    text = "a: 1\nb:\n- x\n- 'y z'\nc: {d: [1, 2]}\ne: |\n  line\nf: \"q: r\"  # comment\n---\ng: ~\n"
    assert fakeyaml.load_all(text) == [{"a": 1, "b": ["x", "y z"], "c": {"d": [1, 2]}, "e": "line\n", "f": "q: r"},
                                       {"g": None}]
    value = {"spec": {"list": [{"name": "n", "items": [1]}], "empty": [], "text": "two\nlines\n", "flag": "true"}}
    assert fakeyaml.load(fakeyaml.dump(value)) == value


def test_create_running_cluster_is_consistent(tmp_path: Path) -> None:
    cluster = FakeCluster.create(tmp_path / "s.json", controllers=3, workers=2, stage="running")
    state = cluster.read()
    assert state["etcd"]["bootstrapped"] and len(state["etcd"]["members"]) == 3
    assert all(n["kubernetes_ready"] for n in state["nodes"])
    assert cluster.ips("worker") == ["10.0.0.14", "10.0.0.15"]
