"""`inv bootstrap.*` end to end: the real tasks against the fake talosctl/helmfile and a fake
Kubernetes API server, on a project configured for the fake cluster's nodes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import INV, SCHEMA_DIR

from .conftest import ADDRESSES, CONTROLLER, HA_NODES, NODES, Bench, rename_fake_nodes

RELEASES = ["kube-system/cilium", "kube-system/coredns", "kube-system/spegel", "cert-manager/cert-manager",
            "flux-system/flux-operator", "flux-system/flux-instance"]

# Every test drives whole bootstrap tasks against the fakes: 5-18 s each.
pytestmark = pytest.mark.slow


def ok(bench: Bench, *args: str, **extra: str) -> str:
    result = bench.inv(*args, **extra)
    output = bench.output(result)
    assert result.returncode == 0, output
    return output


def assert_no_secrets(bench: Bench, output: str) -> None:
    for label, value in bench.secrets().items():
        assert value not in output, f"the {label} was printed"


def cluster_state(bench: Bench) -> dict:
    """The simulated cluster, without the fake helmfile's record of what it rendered (a read)."""
    state = bench.tools.cluster.read()
    state["helmfile"].pop("templated", None)
    return state


def bootstrap_calls(bench: Bench) -> list:
    return bench.tools.calls("talosctl", "bootstrap")


# -- the happy path and immediate re-runs -------------------------------------------------------------------

def test_full_bootstrap_then_reruns_are_fast_no_ops(bench: Bench):
    output = ok(bench, "bootstrap.talos")
    assert_no_secrets(bench, output)
    state = bench.tools.cluster.wait_settled()
    assert [(n["hostname"], n["stage"]) for n in state["nodes"]] == [(name, "running") for name, _, _ in NODES]
    assert state["etcd"]["bootstrapped"] and state["etcd"]["bootstrapped_by"] == "k8s-0"
    applies = bench.tools.calls("talosctl", "apply-config")
    assert [call.argv[call.argv.index("--nodes") + 1] for call in applies] == list(ADDRESSES)
    assert all("--insecure" in call.argv for call in applies)
    assert [call.argv[call.argv.index("--nodes") + 1] for call in bootstrap_calls(bench)] == [CONTROLLER]
    kubeconfig = bench.root / "kubeconfig"
    assert bench.api.url in kubeconfig.read_text()
    journal = json.loads((bench.root / ".inv/journal/bootstrap.json").read_text())
    assert journal["records"]["etcd_bootstrap"]["node"] == "k8s-0"

    output = ok(bench, "bootstrap.talos")
    assert "nothing to do" in output
    for skipped in ("apply k8s-0: skipped", "apply k8s-2: skipped", "bootstrap etcd on k8s-0: skipped",
                    "kubeconfig: skipped"):
        assert skipped in output
    assert len(bench.tools.calls("talosctl", "apply-config")) == 3
    assert len(bootstrap_calls(bench)) == 1
    assert len(bench.tools.calls("talosctl", "kubeconfig")) == 1

    output = ok(bench, "bootstrap.apps")
    assert_no_secrets(bench, output)
    assert bench.tools.cluster.synced_releases() == RELEASES
    namespaces = {ns["metadata"]["name"] for ns in bench.api.objects("Namespace")}
    assert {"cert-manager", "flux-system", "kube-system", "network", "default"} <= namespaces
    secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in bench.api.objects("Secret")}
    age_key = bench.secrets()["age key"]
    assert base64.b64decode(secrets[("flux-system", "sops-age")]["data"]["age.agekey"]).decode() == age_key
    assert ("flux-system", "github-deploy-key") in secrets and ("flux-system", "cluster-secrets") in secrets
    crds = {crd["metadata"]["name"] for crd in bench.api.objects("CustomResourceDefinition")}
    assert any(name.endswith("envoy-gateway.fake.helmfile.test") for name in crds)
    assert all(node["kubernetes_ready"] for node in bench.tools.cluster.nodes())
    assert "wait for Flux to be Ready: done" in output

    writes = len(bench.api.writes())
    output = ok(bench, "bootstrap.apps")
    assert "nothing to do" in output and "helmfile sync bootstrap/helmfile.d/01-apps.yaml: skipped" in output
    assert "secret bootstrap/sops-age.sops.yaml: skipped" in output
    assert len(bench.tools.calls("helmfile", "sync")) == 1
    assert len(bench.api.writes()) == writes
    assert len(bootstrap_calls(bench)) == 1


def test_a_node_that_fails_to_apply_twice_is_retried(bench: Bench):
    bench.tools.cluster.fail_apply("10.0.0.12", times=2)
    output = ok(bench, "bootstrap.talos", "--parallel", "3")
    assert "k8s-1 (10.0.0.12): apply-config failed" in output and "retry 2/5" in output
    applies = bench.tools.calls("talosctl", "apply-config", "10.0.0.12")
    assert [call.returncode for call in applies] == [1, 1, 0]
    assert bench.tools.cluster.wait_settled()["etcd"]["bootstrapped"]
    assert len(bootstrap_calls(bench)) == 1


def test_a_run_stopped_while_nodes_install_continues_on_rerun(bench: Bench):
    bench.tools.cluster.set_timing(install_seconds=2.5)
    result = bench.inv("bootstrap.talos", "--timeout", "1")
    assert result.returncode == 1
    assert "did not leave maintenance mode within 1s" in result.stderr
    assert "re-run `inv bootstrap.talos` to continue" in result.stderr
    assert "Traceback" not in result.stderr
    assert bootstrap_calls(bench) == []

    output = ok(bench, "bootstrap.talos")
    assert "apply k8s-0: skipped" in output
    assert len(bench.tools.calls("talosctl", "apply-config")) == 3  # nothing applied twice
    assert len(bootstrap_calls(bench)) == 1


def test_a_run_interrupted_by_ctrl_c_continues_on_rerun(bench: Bench):
    """Ctrl-C while the nodes install (the controller stops answering), then a normal re-run."""
    bench.tools.cluster.set_timing(install_seconds=2.0)
    process = subprocess.Popen([INV, "bootstrap.talos"], cwd=bench.root, env={
        **bench.env(), "PYTHONDONTWRITEBYTECODE": "1", "CLUSTER_TEMPLATE_SCHEMA_DIR": str(SCHEMA_DIR)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len([c for c in bench.tools.calls("talosctl", "apply-config") if c.returncode == 0]) < 3:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the applies never finished"
            time.sleep(0.05)
        bench.tools.cluster.set_hang(CONTROLLER, 60)
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert bootstrap_calls(bench) == []

    bench.tools.cluster.set_hang(CONTROLLER, 0)
    output = ok(bench, "bootstrap.talos")
    assert "apply k8s-1: skipped" in output
    assert len(bench.tools.calls("talosctl", "apply-config")) == 3
    assert len(bootstrap_calls(bench)) == 1


def test_an_already_bootstrapped_cluster_is_left_alone(running_bench: Bench):
    bench = running_bench
    rename_fake_nodes(bench.tools)
    ok(bench, "talos.generate-config")  # this checkout already has the cluster's secrets and configs
    plan = bench.inv("--dry", "bootstrap.talos")
    assert plan.returncode == 0, bench.output(plan)
    commands = [line for line in plan.stderr.splitlines() if line.startswith("would run: ")]
    assert len(commands) == 1 and " kubeconfig " in commands[0], plan.stderr
    assert "wait for nodes to leave maintenance: skipped" in plan.stdout

    output = ok(bench, "bootstrap.talos")
    assert "bootstrap etcd on k8s-0: skipped (already bootstrapped; members: k8s-0)" in output
    assert "kubeconfig: done" in output  # this checkout had none yet
    assert bench.tools.calls("talosctl", "apply-config") == []
    assert bootstrap_calls(bench) == []

    output = ok(bench, "bootstrap.apps")
    assert "helmfile sync bootstrap/helmfile.d/01-apps.yaml: skipped (Flux is Ready" in output
    assert bench.tools.calls("helmfile", "sync") == []
    assert "secret bootstrap/sops-age.sops.yaml: done" in output  # the secrets were missing


def test_apps_leaves_the_crds_alone_once_flux_upgraded_them(running_bench: Bench):
    """Flux's helm-controller upgraded the CRDs (and owns their fields); the bootstrap's older copies
    would conflict on a server-side apply, so a re-run of bootstrap.apps must not apply them."""
    from cluster_template.cluster import Kube
    from cluster_template.ops.bootstrap import crd_documents
    from cluster_template.run import Executor

    bench = running_bench
    rename_fake_nodes(bench.tools)
    ok(bench, "bootstrap.talos")
    bench.tools.cluster.set_flux_installed(False)  # first install: the bootstrap applies the CRDs
    bench.tools.cluster.set_kustomization("flux-system", ready=False, message="waiting for the source")
    first = bench.inv("bootstrap.apps", "--timeout", "1")
    assert "CRDs from bootstrap/helmfile.d/00-crds.yaml: done" in bench.output(first)
    bench.tools.cluster.set_kustomization("flux-system", ready=True)
    ex = Executor(env=bench.env())
    kubeconfig = bench.root / "kubeconfig"
    upgraded = crd_documents(bench.root, ex, kubeconfig)
    for crd in upgraded:
        crd["metadata"]["labels"]["helm.sh/chart"] += "-flux-upgrade"
    with Kube(kubeconfig, ex) as kube:
        kube.apply(upgraded, field_manager="helm-controller", force_conflicts=True)

    output = ok(bench, "bootstrap.apps")

    assert "CRDs from bootstrap/helmfile.d/00-crds.yaml: skipped (Flux is Ready and manages" in output
    assert bench.tools.calls("helmfile", "sync") != []  # the first run synced; the second did not
    assert len(bench.tools.calls("helmfile", "sync")) == 1


def test_apps_waits_for_flux_and_reports_its_message(running_bench: Bench):
    bench = running_bench
    rename_fake_nodes(bench.tools)
    ok(bench, "bootstrap.talos")
    bench.tools.cluster.set_gitrepository("flux-system", ready=False,
                                          message="failed to checkout and determine revision: unable to clone")
    result = bench.inv("bootstrap.apps", "--timeout", "1")
    assert result.returncode == 1
    assert "GitRepository/flux-system/flux-system" in result.stderr
    assert "unable to clone" in result.stderr and "re-run `inv bootstrap.apps`" in result.stderr
    assert len(bench.tools.calls("helmfile", "sync")) == 1  # Flux was not Ready, so the releases were synced


def test_reinstalling_the_first_controller_joins_it_to_the_running_etcd(ha_running_bench: Bench):
    """`inv talos.reset --node <first controller>` then `inv bootstrap.talos` (the flow the reset
    task points to): while the reinstalled controller joins, its etcd data is empty, so Talos would
    accept a bootstrap there and start a second etcd cluster. The other controllers still run the
    cluster: the bootstrap must see that and let the node join instead."""
    bench = ha_running_bench
    bench.tools.cluster.set_timing(etcd_join_seconds=1.5)
    ok(bench, "talos.generate-config")
    ok(bench, "talos.reset", "--node", "k8s-0", "--yes")
    bench.tools.cluster.wait_settled()
    assert bench.tools.cluster.node(CONTROLLER)["stage"] == "maintenance"

    output = ok(bench, "bootstrap.talos")
    state = bench.tools.cluster.wait_settled()
    assert list(bench.tools.cluster.etcd_clusters().values()) == [["k8s-0", "k8s-1", "k8s-2"]], output
    assert not state["etcd"].get("foreign")
    assert [call.returncode for call in bootstrap_calls(bench)] in ([], [1])  # never accepted
    assert "joined" in output and "k8s-0" in output


def _joining_first_controller_behind_a_firewall(bench: Bench) -> None:
    """The state a run interrupted after re-applying the first controller leaves: k8s-0 is
    configured again but still joining, with empty etcd data (so Talos would accept a bootstrap
    there), and this machine reaches the other controllers only through k8s-0's apid."""
    bench.tools.cluster.set_timing(etcd_join_seconds=1.5)
    with bench.tools.cluster.edit() as state:
        first = next(node for node in state["nodes"] if node["ip"] == CONTROLLER)
        first["etcd_data"] = None
        state["etcd"]["members"] = [m for m in state["etcd"]["members"] if m["hostname"] != first["hostname"]]
        for node in state["nodes"]:
            node["client_unreachable"] = node["ip"] != CONTROLLER


def test_a_controller_reachable_only_through_an_endpoint_still_blocks_a_second_bootstrap(ha_running_bench: Bench):
    """Asked at their own addresses, the controllers that run etcd do not answer and the joining
    one has no members: without the talosconfig's endpoints the step would bootstrap k8s-0 (no
    journal: another checkout) and found a second etcd cluster."""
    from cluster_template.ops import bootstrap as bs
    from cluster_template.run import Executor
    from cluster_template.tools.talosctl import Talosctl

    bench = ha_running_bench
    _joining_first_controller_behind_a_firewall(bench)
    talosconfig = bench.tools.cluster.write_talosconfig(bench.root / "talosconfig")
    ex = Executor(env=bench.tools.env)
    controllers = [bs.ClusterNode(name, address, True, "/dev/sda") for name, address, _ in HA_NODES]
    step = bs.bootstrap_etcd(Talosctl(ex, talosconfig), controllers, bs.bootstrap_journal(bench.root, ex), bs.StepLog(),
                             timing=bs.Timing(poll=0.05, bootstrap_pause=0.05, bootstrap_timeout=5), dry=False)
    assert bootstrap_calls(bench) == [] and step.outcome == bs.SKIPPED, step
    assert "members: k8s-1, k8s-2" in step.detail
    assert not bench.tools.cluster.read()["etcd"].get("foreign")


def test_bootstrap_talos_reaches_controllers_through_the_endpoints_and_lets_the_first_join(ha_running_bench: Bench):
    bench = ha_running_bench
    _joining_first_controller_behind_a_firewall(bench)
    output = ok(bench, "bootstrap.talos")
    assert bootstrap_calls(bench) == [], output
    assert "apply k8s-1: skipped" in output and "apply k8s-2: skipped" in output
    deadline = time.monotonic() + 10
    while bench.tools.cluster.node(CONTROLLER).get("etcd_data") is None:
        assert time.monotonic() < deadline, "k8s-0 never joined"
        time.sleep(0.1)
    assert list(bench.tools.cluster.etcd_clusters().values()) == [["k8s-0", "k8s-1", "k8s-2"]]


def test_a_stale_kubeconfig_is_replaced_not_merged_into(tmp_path: Path):
    """An earlier cluster's kubeconfig (its API gone) must not survive beside the new credentials."""
    from cluster_template.ops import bootstrap as bs
    from cluster_template.run import Executor
    from cluster_template.tools.talosctl import Talosctl
    from tests.fakes import fakeyaml
    from tests.fakes.fixtures import fake_tools

    tools = fake_tools(tmp_path, controllers=1, stage="running")
    talosconfig = tools.cluster.write_talosconfig(tmp_path / "talosconfig")
    stale = "old-cluster-token-" + "x" * 20
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: old\n  cluster:\n    server: https://127.0.0.1:1\n"
        f"users:\n- name: admin@old\n  user:\n    token: {stale}\ncontexts:\n- name: admin@old\n  context:\n"
        "    cluster: old\n    user: admin@old\ncurrent-context: admin@old\n")
    ex = Executor(env=tools.env)
    step = bs.fetch_kubeconfig(tmp_path, Talosctl(ex, talosconfig), bs.ClusterNode("k8s-0", CONTROLLER, True, "/dev/sda"),
                               bs.StepLog())
    assert step.outcome == bs.DONE
    written = (tmp_path / "kubeconfig").read_text()
    assert stale not in written
    assert [c["name"] for c in fakeyaml.load(written)["contexts"]] == ["admin@kubernetes"]


def test_dry_apply_node_on_a_generated_config_prints_no_value_of_the_secrets_bundle(running_bench: Bench):
    """The real bundle and machine configs of `inv talos.generate-config`; the node runs the same
    config but for one certSAN, so the diff's context lines are those around machine.certSANs."""
    from cluster_template.ops.talos_config import load_stored_secrets
    from cluster_template.run import Executor

    bench = running_bench
    rename_fake_nodes(bench.tools)
    ok(bench, "talos.generate-config")
    config = next((bench.root / "talos" / "clusterconfig").glob("*-k8s-0.yaml"))
    text = config.read_text()
    assert "    certSANs:\n" in text
    running = text.replace("    certSANs:\n", "    certSANs:\n        - 10.0.0.99\n", 1)
    with bench.tools.cluster.edit() as state:
        state["nodes"][0]["config"] = running

    result = bench.inv("--dry", "talos.apply-node", "--node", "k8s-0")
    output = bench.output(result)
    assert result.returncode == 0, output
    assert "-        - 10.0.0.99" in output
    bundle = load_stored_secrets(bench.root, Executor(env=bench.env()))
    leaked = [value[:12] for value in bundle.secret_values() if value in output
              or any(len(line) >= 16 and line in output for line in value.splitlines())]
    assert leaked == [], output
    assert_no_secrets(bench, output)


# -- dry runs -----------------------------------------------------------------------------------------------

def test_dry_runs_print_the_commands_and_change_nothing(bench: Bench):
    before_files = bench.project.snapshot()
    before_state = cluster_state(bench)

    talos = bench.inv("--dry", "bootstrap.talos")
    assert talos.returncode == 0, bench.output(talos)
    commands = [line for line in talos.stderr.splitlines() if line.startswith("would run: ")]
    assert [line.split("--nodes ")[1].split()[0] for line in commands] == [*ADDRESSES, CONTROLLER, CONTROLLER]
    assert all("apply-config" in line and "--insecure" in line for line in commands[:3])
    assert " bootstrap --nodes 10.0.0.11" in commands[3] and " kubeconfig " in commands[4]
    assert "would create: talos/talsecret.sops.yaml" in talos.stderr

    apps = bench.inv("--dry", "bootstrap.apps")
    assert apps.returncode == 0, bench.output(apps)
    assert "would run: helmfile --file" in apps.stderr and "01-apps.yaml sync" in apps.stderr
    assert "secret bootstrap/sops-age.sops.yaml: planned" in apps.stdout

    for result in (talos, apps):
        assert_no_secrets(bench, bench.output(result))
    assert bench.project.snapshot() == before_files
    assert cluster_state(bench) == before_state
    changing = [call for call in bench.tools.calls() if call.has("apply-config") or call.has("bootstrap")
                or call.has("kubeconfig") or call.has("sync")]
    assert changing == []
    assert bench.api.writes() == []


def test_after_template_tidy_a_dry_run_plans_every_node_from_the_talconfig(bench: Bench):
    tidy = bench.inv("template.tidy", "--yes")
    assert tidy.returncode == 0, bench.output(tidy)
    assert not (bench.root / "nodes.yaml").exists() and not (bench.root / "cluster.yaml").exists()

    plan = bench.inv("--dry", "bootstrap.talos")
    assert plan.returncode == 0, bench.output(plan)
    commands = [line for line in plan.stderr.splitlines() if line.startswith("would run: ")]
    applies = [line.split("--nodes ")[1].split()[0] for line in commands if "apply-config" in line]
    assert applies == list(ADDRESSES)
    for name, _, _ in NODES:
        assert f"apply {name}: planned" in plan.stdout
    # The install disk comes from the talconfig too: preflight found it on every node.
    assert plan.stdout.count("install disk /dev/sda present") == len(NODES), plan.stdout


@pytest.mark.parametrize("text", ["{not json", '{"format": 1, "nodes": []}'])
def test_a_corrupt_bootstrap_journal_stops_the_run_naming_the_file(bench: Bench, text: str):
    journal = bench.root / ".inv/journal/bootstrap.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text(text)
    for args in (("--dry", "bootstrap.talos"), ("bootstrap.talos",)):
        result = bench.inv(*args)
        assert result.returncode == 1, bench.output(result)
        assert ".inv/journal/bootstrap.json" in result.stderr and "etcd members" in result.stderr
        assert "would run:" not in result.stderr
    assert bench.tools.calls("talosctl") == []
    assert journal.read_text() == text


def test_dry_apps_on_a_live_cluster_lists_the_changes_without_making_them(bench: Bench):
    ok(bench, "bootstrap.talos")
    before_files = bench.project.snapshot()
    result = bench.inv("--dry", "bootstrap.apps")
    output = bench.output(result)
    assert result.returncode == 0, output
    assert "would create: Secret/flux-system/sops-age" in result.stderr
    assert "would create: Namespace/flux-system" in result.stderr
    assert "would create: CustomResourceDefinition/" in result.stderr
    assert "would run: helmfile" in result.stderr
    assert_no_secrets(bench, output)
    assert bench.api.writes() == []
    assert bench.tools.calls("helmfile", "sync") == []
    assert bench.project.snapshot() == before_files


# -- preconditions, preflight and verify ------------------------------------------------------------------------

def test_a_missing_tool_names_mise_install(bench: Bench):
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    if shutil.which("talosctl", path=path) or shutil.which("helmfile", path=path):
        pytest.skip("a real talosctl/helmfile is installed on this machine")
    for task in ("bootstrap.talos", "bootstrap.apps"):
        if task == "bootstrap.apps":
            (bench.root / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
        result = bench.inv(task, PATH=path)
        assert result.returncode == 1
        assert "was not found on PATH" in result.stderr and "`mise install`" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert bench.tools.calls() == []


def test_a_node_configured_by_another_cluster_is_named_in_the_preflight(running_bench: Bench):
    """Its API demands a client certificate (so it is configured) but its certificate is not signed
    by this cluster's CA: counting it as configured would let the bootstrap wait on it for minutes."""
    bench = running_bench
    rename_fake_nodes(bench.tools)
    ok(bench, "talos.generate-config")
    bench.tools.cluster.set_foreign_ca(ADDRESSES[1])

    for task in ("bootstrap.preflight", "bootstrap.talos"):
        result = bench.inv(task)
        assert result.returncode == 1, bench.output(result)
        assert "k8s-1 (10.0.0.12): configured by another cluster: its Talos API certificate is not signed by the " \
               "CA of talos/clusterconfig/talosconfig" in result.stderr
        assert "Traceback" not in result.stderr
    assert bootstrap_calls(bench) == [] and bench.tools.calls("talosctl", "apply-config") == []


def test_missing_inputs_say_which_task_to_run_first(bench: Bench):
    result = bench.inv("bootstrap.apps")
    assert result.returncode == 1 and "kubeconfig not found; run `inv bootstrap.talos` first" in result.stderr
    (bench.root / "talos/talconfig.yaml").unlink()
    result = bench.inv("bootstrap.talos")
    assert result.returncode == 1 and "talos/talconfig.yaml not found; run `inv configure` first" in result.stderr
    (bench.root / "nodes.yaml").write_text("nodes: []\n")
    result = bench.inv("bootstrap.talos")
    assert result.returncode == 1 and "nodes.yaml" in result.stderr and "Traceback" not in result.stderr


def test_preflight_task_reports_every_problem(bench: Bench):
    with bench.tools.cluster.edit() as state:
        state["nodes"][2]["disks"] = [{"id": "nvme0n1", "dev_path": "/dev/nvme0n1", "size": 500107862016,
                                       "serial": "S3F1NX0K900"}]
    bench.tools.cluster.set_unreachable("10.0.0.12")
    result = bench.inv("bootstrap.preflight")
    assert result.returncode == 1
    assert "k8s-1 (10.0.0.12): not reachable on the Talos API" in result.stderr
    assert "k8s-2 (10.0.0.13): install disk /dev/sda not found; disks: /dev/nvme0n1 (serial S3F1NX0K900" \
        in result.stderr
    bench.tools.cluster.set_unreachable("10.0.0.12", False)
    with bench.tools.cluster.edit() as state:
        state["nodes"][2]["disks"] = []
        del state["nodes"][2]["disks"]
    output = ok(bench, "bootstrap.preflight")
    assert "preflight passed: 3 in maintenance mode, 0 already configured, 0 unreachable" in output


def test_verify_task(bench: Bench):
    result = bench.inv("bootstrap.verify")
    assert result.returncode == 1
    assert "talosconfig not found" in result.stderr
    ok(bench, "bootstrap.talos")
    output = ok(bench, "bootstrap.verify", "--timeout", "10")
    assert "all 3 nodes are configured and ready" in output
    bench.tools.cluster.set_health_fail("10.0.0.13")
    result = bench.inv("bootstrap.verify")
    assert result.returncode == 1 and "k8s-2 (10.0.0.13): stage running, services not ready" in result.stderr
