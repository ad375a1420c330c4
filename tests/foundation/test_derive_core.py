"""Table-driven tests of the core derivations (SEED.md "Derived Variables" and the plugin defaults)."""

import pytest

from cluster_template.config.load import Config
from cluster_template.config.model import ClusterConfig, NodesConfig
from cluster_template.derive import derive
from cluster_template.derive.core import installer_image, nth_host
from cluster_template.inputs import LocalInputs

BASE = {
    "node_cidr": "192.168.1.0/24", "cluster_api_addr": "192.168.1.20", "cluster_gateway_addr": "192.168.1.21",
    "cluster_dns_gateway_addr": "192.168.1.22", "cloudflare_gateway_addr": "192.168.1.23",
    "cloudflare_domain": "example.com", "cloudflare_token": "token-123456", "repository_name": "owner/repo",
}
LOCAL = LocalInputs("age1pub", "AGE-SECRET-KEY-1X", None, "push", "tunnel-id", "dG9rZW4=")


def node(index, controller=True, **extra):
    return {"name": f"k8s-{index}", "address": f"192.168.1.{10 + index}", "controller": controller,
            "disk": "/dev/sda", "mac_addr": f"aa:bb:cc:dd:ee:{index:02x}", "schematic_id": "b" * 64, **extra}


def context(nodes=(node(0),), **overrides):
    config = Config(ClusterConfig.model_validate({**BASE, **overrides}), NodesConfig.model_validate({"nodes": list(nodes)}))
    return derive(config, LOCAL)


BGP = {"cilium_bgp_router_addr": "192.168.1.1", "cilium_bgp_router_asn": 64513, "cilium_bgp_node_asn": 64514}
UNIFI = {"unifi_host": "https://unifi.local", "unifi_api_key": "key-abcdef", "cluster_dns_gateway_addr": None}


@pytest.mark.parametrize(
    "overrides, nodes, key, expected",
    [
        ({}, (node(0),), "cilium_bgp_enabled", False),
        (BGP, (node(0),), "cilium_bgp_enabled", True),
        ({}, (node(0),), "unifi_dns_enabled", False),
        (UNIFI, (node(0),), "unifi_dns_enabled", True),
        ({}, (node(0),), "k8s_gateway_enabled", True),
        (UNIFI, (node(0),), "k8s_gateway_enabled", False),
        ({}, (node(0),), "spegel_enabled", False),
        ({}, (node(0), node(1, False)), "spegel_enabled", True),
        ({"spegel_enabled": False}, (node(0), node(1, False)), "spegel_enabled", False),
        ({"spegel_enabled": True}, (node(0),), "spegel_enabled", True),
        ({}, (node(0),), "node_default_gateway", "192.168.1.1"),
        ({"node_default_gateway": "192.168.1.254"}, (node(0),), "node_default_gateway", "192.168.1.254"),
        ({}, (node(0),), "coredns_addr", "10.43.0.10"),
        ({"cluster_svc_cidr": "10.96.0.0/12"}, (node(0),), "coredns_addr", "10.96.0.10"),
        ({}, (node(0),), "node_cidr_prefix", 24),
        ({}, (node(0),), "repository_url", "https://github.com/owner/repo.git"),
        ({"repository_visibility": "private"}, (node(0),), "repository_url", "ssh://git@github.com/owner/repo.git"),
        ({}, (node(0), node(1, False), node(2)), "controller_count", 2),
        ({}, (node(0), node(1, False), node(2)), "schedulable_node_count", 1),
        ({}, (node(0), node(1), node(2)), "schedulable_node_count", 3),
        ({}, (node(0),), "cluster_pod_cidr", "10.42.0.0/16"),
        ({}, (node(0),), "repository_branch", "main"),
        ({}, (node(0),), "cilium_loadbalancer_mode", "dsr"),
    ],
)
def test_core_rule(overrides, nodes, key, expected):
    value = context(nodes, **overrides)[key]
    assert value == expected and type(value) is type(expected)


def test_node_entries_carry_derived_values():
    nodes = context((node(0), node(1, False, secureboot=True, disk="S3F1NX0K123456")))["nodes"]
    assert nodes[0]["talos_image"] == "factory.talos.dev/installer/" + "b" * 64
    assert nodes[1]["talos_image"] == "factory.talos.dev/installer-secureboot/" + "b" * 64
    assert [n["install_disk_is_path"] for n in nodes] == [True, False]
    assert nodes[0]["mtu"] == 1500 and nodes[0]["kernel_modules"] == []


def test_groups_and_local_inputs():
    ctx = context((node(0), node(1, False)))
    assert [n["name"] for n in ctx["controllers"]] == ["k8s-0"]
    assert [n["name"] for n in ctx["workers"]] == ["k8s-1"]
    assert ctx["age_public_key"] == "age1pub" and ctx["cloudflare_tunnel_id"] == "tunnel-id"


def test_context_is_deterministic_and_sorted():
    first, second = context(), context()
    assert first == second and list(first) == sorted(first)


def test_helpers():
    assert nth_host("10.0.0.0/30", 3) == "10.0.0.3"
    with pytest.raises(ValueError):
        nth_host("10.0.0.0/30", 4)
    assert installer_image("c" * 64, False).endswith("/" + "c" * 64)
