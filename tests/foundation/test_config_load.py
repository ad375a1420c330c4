"""The loader refuses bad configurations with file:line, the key and what was expected."""

from pathlib import Path

import pytest

from cluster_template.config.load import load_config
from cluster_template.errors import ConfigError

CLUSTER = """\
node_cidr: 192.168.1.0/24
cluster_api_addr: 192.168.1.20
cluster_gateway_addr: 192.168.1.21
cluster_dns_gateway_addr: 192.168.1.22
cloudflare_gateway_addr: 192.168.1.23
cloudflare_domain: example.com
cloudflare_token: token-123456
repository_name: owner/repo
"""

NODE = """\
  - name: {name}
    address: {address}
    controller: {controller}
    disk: /dev/sda
    mac_addr: "{mac}"
    schematic_id: "{schematic}"
"""
SCHEMATIC = "a" * 64


def nodes_yaml(*entries):
    return "nodes:\n" + "".join(NODE.format(**{"schematic": SCHEMATIC, **e}) for e in entries)


TWO_NODES = nodes_yaml(
    {"name": "k8s-0", "address": "192.168.1.10", "controller": "true", "mac": "aa:bb:cc:dd:ee:01"},
    {"name": "k8s-1", "address": "192.168.1.11", "controller": "false", "mac": "aa:bb:cc:dd:ee:02"},
)


def load(tmp_path: Path, cluster: str = CLUSTER, nodes: str = TWO_NODES):
    (tmp_path / "cluster.yaml").write_text(cluster)
    (tmp_path / "nodes.yaml").write_text(nodes)
    return load_config(tmp_path)


def issues(tmp_path, **kwargs):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, **kwargs)
    return [str(issue) for issue in raised.value.issues]


def test_valid_config_loads_with_defaults(tmp_path):
    config = load(tmp_path)
    assert config.cluster.cluster_pod_cidr == "10.42.0.0/16"
    assert config.cluster.node_dns_servers == ["1.1.1.1", "1.0.0.1"]
    assert [node.mtu for node in config.nodes.nodes] == [1500, 1500]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c + "node_cidrr: 10.0.0.0/24\n", "cluster.yaml:9: node_cidrr: unknown key; did you mean 'node_cidr'?"),
        (lambda c: c + "cilium_bgp_hold_time: soon\n", "cluster.yaml:9: cilium_bgp_hold_time: Input should be a valid integer"),
        (lambda c: c.replace("node_cidr: 192.168.1.0/24", "node_cidr: 192.168.1.5/24"),
         "cluster.yaml:1: node_cidr: '192.168.1.5/24' has host bits set; did you mean 192.168.1.0/24?"),
        (lambda c: c + "cluster_pod_cidr: 192.168.0.0/16\n", "cluster.yaml:9: cluster_pod_cidr: 192.168.0.0/16 overlaps node_cidr"),
        (lambda c: c.replace("192.168.1.22", "192.168.1.21"),
         "cluster.yaml:4: cluster_dns_gateway_addr: 192.168.1.21 is already used by cluster_gateway_addr"),
        (lambda c: c.replace("cluster_api_addr: 192.168.1.20", "cluster_api_addr: 10.0.0.20"),
         "cluster.yaml:2: cluster_api_addr: 10.0.0.20 is not inside node_cidr 192.168.1.0/24"),
        (lambda c: c + "cilium_bgp_router_addr: 192.168.1.1\n", "cluster.yaml: cilium_bgp_node_asn: must be set together with cilium_bgp_router_addr"),
        (lambda c: c.replace("cluster_dns_gateway_addr: 192.168.1.22\n", ""),
         "cluster.yaml: cluster_dns_gateway_addr: is required unless UniFi DNS"),
        (lambda c: c.replace("cloudflare_domain: example.com", "cloudflare_domain: Example"),
         "cluster.yaml:6: cloudflare_domain: Value error, 'Example' is not a fully qualified"),
        (lambda c: c.replace("repository_name: owner/repo\n", ""), "cluster.yaml: repository_name: is required"),
        (lambda c: c + "unifi_host: https://unifi\n", "cluster.yaml: unifi_api_key: must be set together with unifi_host"),
        (lambda c: c + "cilium_bgp_keepalive_time: 40\n", "cluster.yaml:9: cilium_bgp_keepalive_time: 40s must be shorter"),
    ],
)
def test_cluster_errors_point_at_file_line_and_key(tmp_path, edit, expected):
    found = issues(tmp_path, cluster=edit(CLUSTER))
    assert any(expected.replace("Value error, ", "") in issue for issue in found), found


def test_gateways_may_sit_outside_node_network_with_bgp(tmp_path):
    cluster = CLUSTER.replace("cluster_gateway_addr: 192.168.1.21", "cluster_gateway_addr: 10.99.0.21") + (
        "cilium_bgp_router_addr: 192.168.1.1\ncilium_bgp_router_asn: 64513\ncilium_bgp_node_asn: 64514\n")
    found = issues(tmp_path, cluster=cluster)
    assert found == ["cluster.yaml: cilium_lb_pool_cidr: is required when gateways sit outside node_cidr (cluster_gateway_addr)"]
    found = issues(tmp_path, cluster=cluster + "cilium_lb_pool_cidr: 10.99.1.0/24\n")
    assert any("cluster.yaml:3: cluster_gateway_addr: 10.99.0.21 is not inside cilium_lb_pool_cidr" in i for i in found), found
    cluster = cluster.replace("192.168.1.22", "10.99.0.22").replace("192.168.1.23", "10.99.0.23")
    cluster += "cilium_lb_pool_cidr: 10.99.0.0/16\n"
    assert load(tmp_path, cluster=cluster).cluster.cluster_gateway_addr == "10.99.0.21"
    found = issues(tmp_path, cluster=cluster.replace("cilium_bgp_node_asn: 64514\n", ""))
    assert any("cilium_bgp_node_asn" in issue for issue in found)


@pytest.mark.parametrize(
    "nodes, expected",
    [
        (nodes_yaml({"name": "k8s-0", "address": "192.168.1.10", "controller": "true", "mac": "aa:bb:cc:dd:ee:01"},
                    {"name": "k8s-1", "address": "192.168.1.10", "controller": "false", "mac": "aa:bb:cc:dd:ee:02"}),
         "nodes.yaml:9: nodes[1].address: '192.168.1.10' is already used by nodes[0]"),
        (nodes_yaml({"name": "k8s-0", "address": "192.168.1.10", "controller": "false", "mac": "aa:bb:cc:dd:ee:01"}),
         "nodes.yaml:1: nodes: at least one node must have controller: true"),
        (nodes_yaml({"name": "global", "address": "192.168.1.10", "controller": "true", "mac": "aa:bb:cc:dd:ee:01"}),
         "nodes.yaml:2: nodes[0].name: Value error, 'global' is reserved"),
        (nodes_yaml({"name": "K8s_0", "address": "192.168.1.10", "controller": "true", "mac": "aa:bb:cc:dd:ee:01"}),
         "nodes.yaml:2: nodes[0].name: Value error, 'K8s_0' is not a valid DNS label"),
        (nodes_yaml({"name": "k8s-0", "address": "192.168.1.10", "controller": "true", "mac": "AA:BB:CC:DD:EE:01"}),
         "nodes.yaml:6: nodes[0].mac_addr: String should match pattern"),
        (nodes_yaml({"name": "k8s-0", "address": "10.0.0.1", "controller": "true", "mac": "aa:bb:cc:dd:ee:01"}),
         "nodes.yaml:3: nodes[0].address: 10.0.0.1 is not inside node_cidr"),
        (nodes_yaml({"name": "k8s-0", "address": "192.168.1.20", "controller": "true", "mac": "aa:bb:cc:dd:ee:01"}),
         "nodes.yaml:3: nodes[0].address: 192.168.1.20 is already used by cluster_api_addr"),
        (TWO_NODES.replace("    disk: /dev/sda\n", "    disk: /dev/sda\n    diskk: x\n", 1),
         "nodes.yaml:6: nodes[0].diskk: unknown key; did you mean 'disk'?"),
        (TWO_NODES.replace(SCHEMATIC, "z" * 64, 1), "nodes.yaml:7: nodes[0].schematic_id: String should match pattern"),
        ("nodes: []\n", "nodes.yaml:1: nodes: at least one node is required"),
    ],
)
def test_node_errors_point_at_file_line_and_key(tmp_path, nodes, expected):
    found = issues(tmp_path, nodes=nodes)
    assert any(expected.replace("Value error, ", "") in issue for issue in found), found


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", "cluster.yaml: file is empty"),
        ("node_cidr: [unclosed\n", "cluster.yaml:2: invalid YAML"),
        ("a: 1\na: 2\n", "cluster.yaml:2: invalid YAML"),
        ("- just\n- a list\n", "cluster.yaml:1: must be a mapping"),
        ("\x89PNG\r\n\x1a\n\x00\x00", "cluster.yaml"),
    ],
)
def test_malformed_files_are_refused_without_traceback(tmp_path, content, expected):
    found = issues(tmp_path, cluster=content)
    assert any(issue.startswith(expected) for issue in found), found


def test_binary_and_huge_files(tmp_path):
    (tmp_path / "nodes.yaml").write_text(TWO_NODES)
    (tmp_path / "cluster.yaml").write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path)
    (tmp_path / "cluster.yaml").write_text("a: " + "x" * (2 * 1024 * 1024))
    with pytest.raises(ConfigError, match="refusing anything over"):
        load_config(tmp_path)


def test_missing_files_name_the_fix(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert all("inv init" in str(issue) for issue in raised.value.issues)
    assert len(raised.value.issues) == 2


def test_every_issue_is_reported_at_once(tmp_path):
    cluster = CLUSTER + "typo_one: 1\ntypo_two: 2\n"
    nodes = TWO_NODES.replace("aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:01")
    found = issues(tmp_path, cluster=cluster, nodes=nodes)
    assert len([i for i in found if "unknown key" in i]) == 2
