"""A corpus of invalid configurations: each is refused with a message naming the file and key (or
line), never with a traceback, and no output file changes."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cluster_template.config.load import load_config
from cluster_template.errors import ConfigError

from ..conftest import REPO

SAMPLE_CLUSTER = (REPO / "templates/samples/cluster.sample.yaml").read_text()
SAMPLE_NODES = (REPO / "templates/samples/nodes.sample.yaml").read_text()

REQUIRED = ["node_cidr", "cluster_api_addr", "cluster_gateway_addr", "cloudflare_gateway_addr",
            "cloudflare_domain", "cloudflare_token", "repository_name"]
ADDRESS_KEYS = ["cluster_api_addr", "cluster_gateway_addr", "cluster_dns_gateway_addr", "cloudflare_gateway_addr"]
CIDR_KEYS = ["node_cidr", "cluster_pod_cidr", "cluster_svc_cidr"]
BAD_ADDRESSES = ["192.168.1", "256.1.1.1", "192.168.1.20/32", "fe80::1", "not-an-ip", "", "192.168.001.1x"]
BAD_CIDRS = ["192.168.1.0", "192.168.1.0/33", "192.168.1.5/24", "10.0.0.0/8/8", "abc/24", ""]
WRONG_TYPES = {
    "node_dns_servers": "1.1.1.1", "cluster_api_tls_sans": "a.example.com", "cilium_bgp_hold_time": "soon",
    "cilium_bgp_graceful_restart": "maybe", "node_vlan_tag": 5000, "repository_visibility": "secret",
    "cilium_loadbalancer_mode": "fast", "talos_version": "1.11.0", "kubernetes_version": "v1.99.0",
    "spegel_enabled": "perhaps", "cluster_name": "Has Spaces", "repository_name": "no-slash",
    "unifi_host": "ftp://x", "cilium_bgp_router_asn": 0, "node_ntp_servers": [1, 2],
}


def set_key(text: str, key: str, value: str) -> str:
    """The sample with `key: value` set (replacing an existing or commented-out line)."""
    lines = [line for line in text.splitlines() if not line.lstrip("# ").startswith(f"{key}:")]
    return "\n".join(lines) + f"\n{key}: {value}\n"


def drop_key(text: str, key: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(f"{key}:")) + "\n"


def yaml_value(value) -> str:
    import json

    return json.dumps(value)


def corpus() -> list[tuple[str, str, str, str]]:
    """(case id, cluster.yaml text, nodes.yaml text, a fragment the message must contain)."""
    cases = []
    for key in REQUIRED:
        cases.append((f"missing-{key}", drop_key(SAMPLE_CLUSTER, key), SAMPLE_NODES, key))
    for key in ADDRESS_KEYS:
        for bad in BAD_ADDRESSES:
            cases.append((f"address-{key}-{bad}", set_key(SAMPLE_CLUSTER, key, yaml_value(bad)), SAMPLE_NODES, key))
    for key in CIDR_KEYS:
        for bad in BAD_CIDRS:
            cases.append((f"cidr-{key}-{bad}", set_key(SAMPLE_CLUSTER, key, yaml_value(bad)), SAMPLE_NODES, key))
    for key, value in WRONG_TYPES.items():
        cases.append((f"type-{key}", set_key(SAMPLE_CLUSTER, key, yaml_value(value)), SAMPLE_NODES, key))
    for key in REQUIRED[:5] + ["cluster_pod_cidr", "node_dns_servers"]:
        typo = key[:-1] + ("x" if key[-1] != "x" else "y")
        cases.append((f"unknown-{typo}", SAMPLE_CLUSTER + f"{typo}: 1\n", SAMPLE_NODES, typo))
    overlaps = [("cluster_pod_cidr", "192.168.0.0/16"), ("cluster_svc_cidr", "10.42.128.0/17"),
                ("cluster_svc_cidr", "192.168.1.128/25")]
    for key, value in overlaps:
        cases.append((f"overlap-{key}-{value}", set_key(SAMPLE_CLUSTER, key, yaml_value(value)), SAMPLE_NODES, "overlaps"))
    for first, second in [("cluster_api_addr", "cluster_gateway_addr"), ("cluster_gateway_addr", "cloudflare_gateway_addr"),
                          ("cluster_dns_gateway_addr", "cluster_api_addr")]:
        clash = set_key(SAMPLE_CLUSTER, first, '"192.168.1.99"')
        clash = set_key(clash, second, '"192.168.1.99"')
        cases.append((f"duplicate-{first}-{second}", clash, SAMPLE_NODES, "already used"))
    cases.append(("outside-api", set_key(SAMPLE_CLUSTER, "cluster_api_addr", '"10.9.9.9"'), SAMPLE_NODES, "not inside node_cidr"))
    cases.append(("bgp-partial", SAMPLE_CLUSTER + 'cilium_bgp_router_addr: "192.168.1.1"\n', SAMPLE_NODES, "cilium_bgp_router_asn"))
    cases.append(("unifi-partial", SAMPLE_CLUSTER + 'unifi_host: "https://u"\n', SAMPLE_NODES, "unifi_api_key"))
    node_edits = {
        "node-duplicate-address": ('address: "192.168.1.11"', 'address: "192.168.1.10"', "nodes[1].address"),
        "node-duplicate-name": ('name: "k8s-1"', 'name: "k8s-0"', "nodes[1].name"),
        "node-duplicate-mac": ('mac_addr: "bc:24:11:00:00:11"', 'mac_addr: "bc:24:11:00:00:10"', "nodes[1].mac_addr"),
        "node-upper-mac": ('mac_addr: "bc:24:11:00:00:11"', 'mac_addr: "BC:24:11:00:00:11"', "nodes[1].mac_addr"),
        "node-reserved-name": ('name: "k8s-1"', 'name: "controller"', "nodes[1].name"),
        "node-bad-name": ('name: "k8s-1"', 'name: "K8S_1"', "nodes[1].name"),
        "node-no-controller": ("controller: true", "controller: false", "controller"),
        "node-bad-schematic": ('schematic_id: "3765', 'schematic_id: "Z765', "schematic_id"),
        "node-short-schematic": ('schematic_id: "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"',
                                 'schematic_id: "3765"', "schematic_id"),
        "node-mtu": ('    # mtu: 1500', '    mtu: 100', "mtu"),
        "node-outside": ('address: "192.168.1.11"', 'address: "10.1.1.11"', "nodes[1].address"),
        "node-clash-api": ('address: "192.168.1.11"', 'address: "192.168.1.20"', "nodes[1].address"),
        "node-unknown-key": ('    disk: "/dev/sda"', '    disk: "/dev/sda"\n    disks: 1', "disks"),
        "node-bad-address": ('address: "192.168.1.11"', 'address: "192.168.1.300"', "nodes[1].address"),
        "node-controller-type": ("controller: false", "controller: sometimes", "controller"),
        "node-vm-cores": ('    # vm_cores: 4', '    vm_cores: 100', "vm_cores"),
        "node-kernel-modules": ('    # kernel_modules: ["nvidia", "nvidia_uvm"]', '    kernel_modules: nvidia', "kernel_modules"),
    }
    for case, (old, new, fragment) in node_edits.items():
        assert old in SAMPLE_NODES, case
        cases.append((case, SAMPLE_CLUSTER, SAMPLE_NODES.replace(old, new, 1), fragment))
    cases.append(("nodes-empty-list", SAMPLE_CLUSTER, "nodes: []\n", "nodes"))
    cases.append(("nodes-not-list", SAMPLE_CLUSTER, "nodes: k8s-0\n", "nodes"))
    syntax = {
        "yaml-unclosed-flow": ("node_dns_servers: [1.1.1.1\n", "invalid YAML"),
        "yaml-bad-indent": ("node_cidr: 192.168.1.0/24\n  cluster_api_addr: x\n", "invalid YAML"),
        "yaml-duplicate-key": (SAMPLE_CLUSTER + 'node_cidr: "192.168.1.0/24"\n', "invalid YAML"),
        "yaml-tab": ("node_cidr:\t\t[\n", "invalid YAML"),
        "yaml-list-root": ("- a\n- b\n", "must be a mapping"),
        "yaml-scalar-root": ("just text\n", "must be a mapping"),
        "empty-file": ("", "empty"),
        "comments-only": ("# nothing here\n", "empty"),
        "binary-junk": ("\x00\x01\x02PK\x03\x04", "NUL"),
        "huge-file": ("a: " + "x" * (1024 * 1024 + 10) + "\n", "refusing"),
        "anchor-small": ("a: &a [1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b]\n", "unknown key"),
        "anchor-bomb": ("a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
            f"{x}: &{x} [{','.join(['*' + p] * 10)}]\n" for p, x in zip("abcdefgh", "bcdefghi")), "nested YAML aliases"),
    }
    for case, (text, fragment) in syntax.items():
        cases.append((case, text, SAMPLE_NODES, fragment))
    return cases


CORPUS = corpus()


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 100
    assert len({case for case, *_ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case, cluster, nodes, fragment", CORPUS, ids=[c[0] for c in CORPUS])
def test_invalid_config_is_refused_with_file_and_key(tmp_path, case, cluster, nodes, fragment):
    (tmp_path / "cluster.yaml").write_text(cluster, errors="surrogateescape")
    (tmp_path / "nodes.yaml").write_text(nodes)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    messages = [str(issue) for issue in raised.value.issues]
    assert any(fragment in message for message in messages), messages
    for issue in raised.value.issues:
        assert issue.file in {"cluster.yaml", "nodes.yaml"}
        assert issue.key or issue.line is not None or "file" in issue.message or "empty" in issue.message


SUBPROCESS_CASES = [c for c in CORPUS if c[0] in {
    "missing-node_cidr", "type-cilium_bgp_hold_time", "unknown-node_cidx", "overlap-cluster_pod_cidr-192.168.0.0/16",
    "node-duplicate-address", "yaml-unclosed-flow", "empty-file", "binary-junk", "huge-file", "node-no-controller",
}]


@pytest.mark.parametrize("case, cluster, nodes, fragment", SUBPROCESS_CASES, ids=[c[0] for c in SUBPROCESS_CASES])
def test_inv_configure_refuses_without_traceback_or_changes(configured_sample, case, cluster, nodes, fragment):
    project = configured_sample
    (project.root / "cluster.yaml").write_text(cluster)
    (project.root / "nodes.yaml").write_text(nodes)
    before = project.snapshot()
    result = project.inv("configure", "--yes")
    assert result.returncode == 1
    assert fragment in result.stderr and ("cluster.yaml" in result.stderr or "nodes.yaml" in result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert project.snapshot() == before


KEYS = sorted(__import__("cluster_template.config.model", fromlist=["x"]).ClusterConfig.model_fields)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(string.printable, max_size=40))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), values, max_size=6))
def test_any_cluster_values_give_config_error_or_config(tmp_path, overrides):
    import json

    from ruamel.yaml import YAML

    base = YAML(typ="safe").load(SAMPLE_CLUSTER)
    base.update(overrides)
    (tmp_path / "cluster.yaml").write_text(json.dumps(base))  # JSON is YAML
    (tmp_path / "nodes.yaml").write_text(SAMPLE_NODES)
    try:
        load_config(tmp_path)
    except ConfigError as error:
        assert error.issues and all(issue.file for issue in error.issues)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
@example(text="-_")  # a sign and underscores alone crashed ruamel's integer constructor
def test_any_text_gives_config_error_or_config(tmp_path, text):
    (tmp_path / "cluster.yaml").write_text(text, errors="surrogatepass")
    (tmp_path / "nodes.yaml").write_text(SAMPLE_NODES)
    try:
        load_config(tmp_path)
    except ConfigError as error:
        assert error.issues
