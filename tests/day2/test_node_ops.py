"""upgrade-node, apply-node, upgrade-k8s and reset against the simulated cluster."""

from __future__ import annotations

import base64

import pytest

from cluster_template.ops.gates import GateFailed, Gates
from cluster_template.ops.nodes import load_inventory, talos_client
from cluster_template.run import Executor
from tests.fakes.cluster import SECRET_FIELDS, fake_talos_secrets, installer_image, machine_config

from .conftest import CLUSTER_NAME, RUNNING, TARGET, make_day2


def calls(day2, *tokens: str) -> list:
    return day2.cluster.calls("talosctl", *tokens)


# -- upgrade-node -----------------------------------------------------------------------------------


def test_upgrade_node_at_target_is_a_noop_that_says_so(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube, talos_version=RUNNING)

    result = day2.inv("talos.upgrade-node", "--ip", day2.node_ip("k8s-worker-0"))

    assert result.returncode == 0, result.stderr
    assert f"k8s-worker-0 already runs {RUNNING}" in result.stdout and "nothing to do" in result.stdout
    assert calls(day2, "upgrade") == []
    assert day2.api.writes() == [], "not even cordoned"


def test_upgrade_node_refuses_an_address_not_in_nodes_yaml(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=2)

    result = day2.inv("talos.upgrade-node", "--ip", "10.0.0.99")

    assert result.returncode == 1
    assert "no node with address 10.0.0.99 in nodes.yaml" in result.stderr
    for node in day2.cluster.nodes():
        assert node["hostname"] in result.stderr and node["ip"] in result.stderr
    assert calls(day2) == [], "nothing was asked of any node"


def test_upgrade_node_upgrades_a_controller_with_its_gates(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=3, workers=0, kube=fake_kube)
    address = day2.node_ip("k8s-1")

    result = day2.inv("talos.upgrade-node", "--node", "k8s-1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert day2.cluster.node(address)["talos_version"] == TARGET
    assert [node.get("upgrade_count", 0) for node in day2.cluster.nodes()] == [0, 1, 0]
    lines = [line for line in result.stdout.splitlines() if line.startswith("[k8s-1]")]
    steps = [line.split("] ", 1)[1].split(" (")[0] for line in lines]
    assert steps[:2] == ["gate: cluster healthy", "gate: etcd healthy"]
    assert steps.index("gate: Kubernetes node Ready") > steps.index(f"gate: reports {TARGET}")
    assert steps[-1] == f"done: {TARGET}"
    health = calls(day2, "health")[0]
    assert health.argv[health.argv.index("--nodes") + 1] != address, "health asked through another controller"


def test_a_long_upgrade_reports_progress_and_no_secret(tmp_path, fake_kube):
    """`talosctl upgrade --wait` on a node that takes its time to reboot: a progress line every
    interval names the command (redacted) and how long it runs."""
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    address = day2.node_ip("k8s-worker-0")
    day2.cluster.set_upgrade_seconds(address, 1.5)
    day2.tools.overrides["CLUSTER_TEMPLATE_PROGRESS_SECONDS"] = "0.4"

    result = day2.inv("talos.upgrade-node", "--node", "k8s-worker-0")

    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    beats = [line for line in output.splitlines() if line.startswith("still waiting for `talosctl")
             and " upgrade " in line]
    assert len(beats) >= 2 and address in beats[0], output
    for value in day2.cluster.talos_secrets().values():
        assert value not in output


def test_an_upgrade_talos_refuses_before_rebooting_leaves_the_node_schedulable(tmp_path, fake_kube):
    """A bad installer image is refused before the node reboots: the node, cordoned and drained for
    the upgrade, is uncordoned again, so the re-run's health gate can pass."""
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    address = day2.node_ip("k8s-worker-0")
    day2.cluster.add_bad_image(installer_image(TARGET))
    boot_id = day2.cluster.node(address)["boot_id"]

    failed = day2.inv("talos.upgrade-node", "--node", "k8s-worker-0")

    assert failed.returncode == 1
    assert "failed before the node rebooted (it was uncordoned again)" in failed.stderr
    assert "failed to pull image" in failed.stderr
    node = day2.cluster.node(address)
    assert (node["boot_id"], node["cordoned"], node["talos_version"]) == (boot_id, False, RUNNING)

    with day2.cluster.edit() as state:
        state["cluster"]["bad_images"] = []
    again = day2.inv("talos.upgrade-node", "--node", "k8s-worker-0")
    assert again.returncode == 0, again.stdout + again.stderr
    assert day2.cluster.node(address)["talos_version"] == TARGET


def test_upgrading_a_controller_of_a_two_member_etcd_is_refused_before_anything_is_touched(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=2, workers=1, kube=fake_kube)

    for args in (("talos.upgrade",), ("talos.upgrade-node", "--node", "k8s-1")):
        result = day2.inv(*args)
        assert result.returncode == 1, result.stdout
        assert "etcd has 2 members (k8s-0, k8s-1): Talos refuses to upgrade a controller" in result.stderr
    assert calls(day2, "upgrade") == []
    assert not any(node["cordoned"] for node in day2.cluster.nodes())


def test_the_two_member_etcd_refusal_does_not_depend_on_the_first_controller(tmp_path, fake_kube):
    """k8s-0 down: the other controller still lists both members, so the refusal stands."""
    day2 = make_day2(tmp_path, controllers=2, workers=1, kube=fake_kube)
    day2.cluster.set_unreachable(day2.node_ip("k8s-0"))

    for args in (("talos.upgrade",), ("talos.upgrade-node", "--node", "k8s-1", "--gate-timeout", "1")):
        result = day2.inv(*args)
        assert result.returncode == 1, result.stdout
        assert "etcd has 2 members (k8s-0, k8s-1): Talos refuses to upgrade a controller" in result.stderr
    assert calls(day2, "upgrade") == []
    assert not any(node["cordoned"] for node in day2.cluster.nodes())


def test_the_etcd_gate_names_the_controllers_that_run_another_etcd(tmp_path, fake_kube):
    """k8s-2 runs an etcd of its own while the first cluster still lists it: asking k8s-0 alone
    sees three healthy members."""
    day2 = make_day2(tmp_path, controllers=3, workers=1, kube=fake_kube)
    day2.cluster.start_second_etcd("k8s-2")
    inventory = load_inventory(day2.root)
    gates = Gates(inventory, talos_client(day2.root, Executor(env=day2.tools.env)), None, timeout=1, interval=0.2)

    with pytest.raises(GateFailed) as failure:
        gates.etcd_healthy("before upgrading k8s-0")
    assert failure.value.detail == ("controllers disagree about the etcd members (a split brain?): "
                                    "k8s-2 lists k8s-2"), failure.value.detail

    plan = day2.inv("talos.upgrade")
    assert plan.returncode == 1, plan.stdout
    assert "etcd: controllers disagree about the etcd members (a split brain?): k8s-2 lists k8s-2" in plan.stderr
    assert calls(day2, "upgrade") == []


def test_upgrade_node_dry_run_says_it_would_and_changes_nothing(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)

    result = day2.inv("--dry", "talos.upgrade-node", "--ip", day2.node_ip("k8s-worker-0"))

    assert result.returncode == 2
    assert f"would upgrade k8s-worker-0 (10.0.0.12, worker): {RUNNING} -> {TARGET}" in result.stdout
    assert calls(day2, "upgrade") == []


# -- apply-node -------------------------------------------------------------------------------------


def test_apply_node_dry_shows_the_diff_and_changes_nothing(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=1)
    address = day2.node_ip("k8s-worker-0")
    config = day2.root / f"talos/clusterconfig/{CLUSTER_NAME}-k8s-worker-0.yaml"
    config.write_text(config.read_text().replace("disk: /dev/sda", "disk: /dev/nvme0n1"))
    before = day2.cluster.node(address)

    result = day2.inv("--dry", "talos.apply-node", "--ip", address)

    assert result.returncode == 0, result.stderr
    assert "Dry run summary" in result.stdout
    assert "-        disk: /dev/sda" in result.stdout and "+        disk: /dev/nvme0n1" in result.stdout
    after = day2.cluster.node(address)
    assert after["config_hash"] == before["config_hash"]
    assert after.get("apply_count", 0) == before.get("apply_count", 0)
    assert calls(day2, "apply-config")[0].has("--dry-run")


def test_apply_node_dry_diff_prints_no_secret_of_the_running_or_the_new_config(tmp_path):
    """An edit of certSANs or the kubelet image has machine.token, machine.ca.key, cluster.token
    and the secretbox secret within the diff's context lines, and a node running configs from
    before a secret rotation shows its old values on `-` lines."""
    day2 = make_day2(tmp_path, controllers=1, workers=1)
    address = day2.node_ip("k8s-0")
    config = day2.root / f"talos/clusterconfig/{CLUSTER_NAME}-k8s-0.yaml"
    config.write_text(config.read_text().replace("        - 127.0.0.1\n", "        - 127.0.0.1\n        - 10.0.0.100\n"))
    rotated = fake_talos_secrets()
    with day2.cluster.edit() as state:
        node = next(n for n in state["nodes"] if n["ip"] == address)
        node["config"] = machine_config("controlplane", "k8s-0", image=installer_image(RUNNING),
                                        cluster_name=CLUSTER_NAME, endpoint="https://10.0.0.100:6443",
                                        kubernetes_version="v1.35.0", secrets=rotated)

    result = day2.inv("--dry", "talos.apply-node", "--ip", address)

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "+        - 10.0.0.100" in output and "-        image: ghcr.io/siderolabs/kubelet:v1.35.0" in output
    assert "key: [REDACTED]" in output and "token: [REDACTED]" in output
    for secrets in (day2.cluster.talos_secrets(), rotated):
        for field in SECRET_FIELDS:
            value = secrets[field]
            pem_lines = [line for line in base64.b64decode(value).decode(errors="replace").splitlines()
                         if not line.startswith("-----")] if field.endswith("_key") else []
            assert value not in output and not any(line in output for line in pem_lines), f"{field} leaked"


def test_apply_node_applies_with_the_mode_and_validates_it(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=1)
    config = day2.root / f"talos/clusterconfig/{CLUSTER_NAME}-k8s-worker-0.yaml"

    refused = day2.inv("talos.apply-node", "--node", "k8s-worker-0", "--mode", "sometimes")
    assert refused.returncode == 1
    assert "auto, no-reboot, reboot, staged, try" in refused.stderr
    assert calls(day2, "apply-config") == []

    result = day2.inv("talos.apply-node", "--node", "k8s-worker-0", "--mode", "no-reboot")
    assert result.returncode == 0, result.stderr
    assert "Applied configuration without a reboot" in result.stdout
    assert day2.cluster.node("k8s-worker-0")["config"] == config.read_text()
    assert calls(day2, "apply-config")[0].has("--mode", "no-reboot")


# -- upgrade-k8s ------------------------------------------------------------------------------------


def test_upgrade_k8s_dry_uses_talosctl_dry_run(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=1)

    result = day2.inv("--dry", "talos.upgrade-k8s")

    assert result.returncode == 0, result.stderr
    assert "skipped in dry-run" in result.stdout
    assert day2.cluster.read()["cluster"]["kubernetes_version"] == "v1.35.0"
    assert calls(day2, "upgrade-k8s")[0].has("--dry-run", "--to", "1.35.4")


def test_upgrade_k8s_checks_health_first(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=1)
    day2.cluster.set_health_fail(day2.node_ip("k8s-worker-0"))

    refused = day2.inv("talos.upgrade-k8s", "--gate-timeout", "2")
    assert refused.returncode == 1
    assert "gate 'cluster healthy'" in refused.stderr
    assert calls(day2, "upgrade-k8s") == []

    day2.cluster.set_health_fail(day2.node_ip("k8s-worker-0"), False)
    result = day2.inv("talos.upgrade-k8s")
    assert result.returncode == 0, result.stderr
    assert day2.cluster.read()["cluster"]["kubernetes_version"] == "v1.35.4"
    upgrade = calls(day2, "upgrade-k8s")[0]
    assert upgrade.argv[upgrade.argv.index("--nodes") + 1] == day2.node_ip("k8s-0"), "through the first controller"


# -- reset ------------------------------------------------------------------------------------------


def test_reset_is_refused_without_yes_and_without_a_terminal(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=1)

    result = day2.inv("talos.reset", input="")

    assert result.returncode == 3
    assert "--yes" in result.stderr
    assert calls(day2, "reset") == []


def test_reset_wipes_state_and_ephemeral_unless_forced(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=2)

    partial = day2.inv("talos.reset", "--yes")

    assert partial.returncode == 0, partial.stderr
    resets = calls(day2, "reset")
    addresses = [call.argv[call.argv.index("--nodes") + 1] for call in resets]
    assert addresses == [day2.node_ip("k8s-worker-0"), day2.node_ip("k8s-worker-1"), day2.node_ip("k8s-0")], \
        "workers first, controllers last"
    for call in resets:
        assert call.has("--graceful=false", "--wait=false", "--reboot")
        wiped = [call.argv[i + 1] for i, token in enumerate(call.argv) if token == "--system-labels-to-wipe"]
        assert wiped == ["STATE", "EPHEMERAL"]
        assert call.argv[call.argv.index("--endpoints") + 1] == call.argv[call.argv.index("--nodes") + 1]
    assert all(node["last_reset"]["labels"] == ["STATE", "EPHEMERAL"] for node in day2.cluster.nodes())

    forced = make_day2(tmp_path / "forced", controllers=1, workers=0)
    result = forced.inv("talos.reset", "--ip", forced.node_ip("k8s-0"), "--force", "--yes")
    assert result.returncode == 0, result.stderr
    (call,) = calls(forced, "reset")
    assert "--system-labels-to-wipe" not in call.argv and call.has("--graceful=false", "--reboot")
    assert forced.cluster.node("k8s-0")["last_reset"]["labels"] == []


def test_resetting_one_worker_drains_it_waits_and_deletes_its_node_object(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=2, kube=fake_kube)
    address = day2.node_ip("k8s-worker-1")

    result = day2.inv("talos.reset", "--node", "k8s-worker-1", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = calls(day2, "reset")
    assert call.has("--graceful=true", "--wait=true", "--reboot") and call.argv[call.argv.index("--nodes") + 1] == address
    node = day2.cluster.node(address)
    assert node["stage"] == "maintenance" and node["last_reset"]["graceful"]
    assert node["k8s_node_deletions"] == 1
    assert "Kubernetes Node k8s-worker-1 deleted" in result.stdout
    assert sorted(info["metadata"]["name"] for info in day2.api.objects("Node")) == ["k8s-0", "k8s-worker-0"]


def test_resetting_one_controller_leaves_etcd_so_the_others_keep_their_fault_tolerance(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=3, workers=0, kube=fake_kube)

    result = day2.inv("talos.reset", "--node", "k8s-2", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    state = day2.cluster.read()
    assert [member["hostname"] for member in state["etcd"]["members"]] == ["k8s-0", "k8s-1"]
    assert state["etcd"]["healthy"]
    assert "k8s-2" not in [info["metadata"]["name"] for info in day2.api.objects("Node")]


def test_resetting_a_controller_is_refused_when_etcd_would_lose_quorum(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=3, workers=0, kube=fake_kube)
    day2.cluster.set_unreachable(day2.node_ip("k8s-1"))

    result = day2.inv("talos.reset", "--node", "k8s-2", "--yes")

    assert result.returncode == 1
    assert "not resetting k8s-2: etcd would lose quorum: once it leaves, 1 of the 2 remaining members are healthy " \
           "(not healthy: k8s-1)" in result.stderr
    assert calls(day2, "reset") == []
    assert len(day2.cluster.read()["etcd"]["members"]) == 3


def test_resetting_the_whole_cluster_stays_non_graceful_and_etcd_is_gone_afterwards(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=3, workers=1, kube=fake_kube)

    result = day2.inv("talos.reset", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert all(call.has("--graceful=false", "--wait=false") for call in calls(day2, "reset"))
    state = day2.cluster.wait_settled()
    assert not state["etcd"]["bootstrapped"] and day2.cluster.etcd_clusters() == {}
