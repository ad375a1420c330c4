"""The rendered infrastructure/ tree: HCL that parses and is formatted, values from the config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cluster_template import keys
from cluster_template.ops.configure import build_context
from cluster_template.render import render_templates
from cluster_template.run import Executor

from .conftest import SAMPLES, SCHEMATIC, TWO_NODES, cluster_yaml, new_credentials, node_entry

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates" / "config"
TF_FILES = ("backend.tf", "main.tf", "outputs.tf", "providers.tf", "variables.tf", "versions.tf")
OTHER_SCHEMATIC = "a" * 64


def render_infra(root: Path, cluster: str, nodes: str) -> dict[str, str]:
    """Render the templates for this configuration (in memory); return the infrastructure/ files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cluster.yaml").write_text(cluster)
    (root / "nodes.yaml").write_text(nodes)
    (root / "age.key").write_text(keys.new_age_key())
    (root / "github-push-token.txt").write_text(keys.new_push_token())
    shutil.copy(SAMPLES / "cloudflare-tunnel.sample.json", root / "cloudflare-tunnel.json")
    _, context = build_context(root, Executor())
    rendered = render_templates(TEMPLATES, context)
    return {path: data.decode() for path, data in rendered.items() if path.startswith("infrastructure/")}


def hcl(text: str) -> dict:
    import hcl2

    return hcl2.loads(text)


def unquote(value: object) -> object:
    """python-hcl2 keeps string literals' quotes ('"pve"'); expressions come as '${...}'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def tfvars_nodes(files: dict[str, str]) -> dict[str, dict]:
    nodes = hcl(files["infrastructure/tofu/terraform.tfvars"])["nodes"]
    return {unquote(name): {key: unquote(value) for key, value in node.items()} for name, node in nodes.items()}


NO_FORMATTER = "neither tofu nor terraform is on PATH (the fake tofu of tests/fakes does not parse HCL)"


def formatter() -> str | None:
    """A real tofu or terraform on PATH, never the fake one the tool tests put first."""
    for candidate in ("tofu", "terraform"):
        found = shutil.which(candidate)
        if found and "tests/fakes" not in found:
            return found
    return None


def tf_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "tf-home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "HOME": str(home), "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1"}


SAMPLE_CLUSTER = (SAMPLES / "cluster.sample.yaml").read_text()
SAMPLE_NODES = (SAMPLES / "nodes.sample.yaml").read_text()


def test_nothing_is_rendered_without_proxmox(tmp_path):
    assert render_infra(tmp_path, SAMPLE_CLUSTER, SAMPLE_NODES) == {}


def test_every_file_is_rendered_when_proxmox_is_set(tmp_path):
    files = render_infra(tmp_path, cluster_yaml(new_credentials()), TWO_NODES)
    expected = {f"infrastructure/tofu/{name}" for name in (*TF_FILES, "terraform.tfvars")}
    assert set(files) == expected | {"infrastructure/secrets.sops.yaml"}


def test_rendered_files_parse_as_hcl(tmp_path):
    files = render_infra(tmp_path, cluster_yaml(new_credentials()), TWO_NODES)
    for name in (*TF_FILES, "terraform.tfvars"):
        hcl(files[f"infrastructure/tofu/{name}"])  # raises on a syntax error

    main = hcl(files["infrastructure/tofu/main.tf"])
    resources = {(kind, name) for block in main["resource"] for kind, named in block.items() for name in named}
    assert resources == {('"proxmox_download_file"', '"talos_iso"'),
                         ('"proxmox_virtual_environment_vm"', '"node"')}
    vm = next(block for block in main["resource"] if '"proxmox_virtual_environment_vm"' in block)
    vm = vm['"proxmox_virtual_environment_vm"']['"node"']
    assert vm["for_each"] == "${var.nodes}"
    assert vm["bios"] == "${var.vm_advanced.bios}"
    assert vm["machine"] == "${local.machine}"

    versions = hcl(files["infrastructure/tofu/versions.tf"])["terraform"][0]
    assert versions["required_version"] == '"~> 1.11.0"'
    provider = versions["required_providers"][0]["proxmox"]
    assert provider["source"] == '"bpg/proxmox"'


def test_backend_points_at_the_state_worker_of_the_domain(tmp_path):
    files = render_infra(tmp_path, cluster_yaml(new_credentials()).replace("example.com", "homelab.example.org"),
                         TWO_NODES)
    backend = hcl(files["infrastructure/tofu/backend.tf"])["terraform"][0]["backend"][0]['"http"']
    address = "https://tfstate.homelab.example.org/states/proxmox"
    assert unquote(backend["address"]) == address
    assert unquote(backend["lock_address"]) == address + "/lock"
    assert unquote(backend["unlock_address"]) == address + "/lock"
    assert (unquote(backend["lock_method"]), unquote(backend["unlock_method"])) == ("LOCK", "UNLOCK")
    assert "username" not in backend and "password" not in backend


def test_no_credential_is_written_outside_the_secrets_file(tmp_path):
    credentials = new_credentials()
    files = render_infra(tmp_path, cluster_yaml(credentials), TWO_NODES)
    for path, text in files.items():
        if path == "infrastructure/secrets.sops.yaml":
            continue
        for value in credentials.values():
            assert value not in text, f"{path} contains a credential"


def test_secrets_file_holds_the_four_credentials(tmp_path):
    from ruamel.yaml import YAML

    credentials = new_credentials()
    files = render_infra(tmp_path, cluster_yaml(credentials), TWO_NODES)
    data = YAML(typ="safe").load(files["infrastructure/secrets.sops.yaml"])
    assert data == {
        "tfstate_username": credentials.tfstate_username,
        "tfstate_password": credentials.tfstate_password,
        "proxmox_api_token_id": credentials.proxmox_api_token_id,
        "proxmox_api_token_secret": credentials.proxmox_api_token_secret,
    }


def test_tfvars_endpoint_and_storage(tmp_path):
    extra = 'proxmox_iso_storage: "isos"\nproxmox_disk_storage: "ceph-vm"\nproxmox_insecure: true\n'
    files = render_infra(tmp_path, cluster_yaml(new_credentials(), extra=extra), TWO_NODES)
    tfvars = hcl(files["infrastructure/tofu/terraform.tfvars"])
    # The provider wants the endpoint without the API path.
    assert unquote(tfvars["proxmox_endpoint"]) == "https://pve.example.com:8006"
    assert tfvars["proxmox_insecure"] is True
    assert unquote(tfvars["proxmox_iso_storage"]) == "isos"
    assert unquote(tfvars["proxmox_disk_storage"]) == "ceph-vm"
    assert unquote(tfvars["talos_version"]).startswith("v1.12.")


def test_vm_size_chain_per_field(tmp_path):
    """Each field of each VM comes from the first level that sets it: the node's vm_* key, the
    role defaults, the global defaults, the built-in size of the role."""
    extra = (
        "proxmox_vm_defaults:\n  cores: 3\n  memory: 10240\n"
        "proxmox_vm_controller_defaults:\n  cores: 6\n"
        "proxmox_vm_worker_defaults:\n  disk_size: 300\n"
    )
    nodes = ("nodes:\n"
             + node_entry("cp-0", "192.168.1.10", controller=True, mac="bc:24:11:00:00:10",
                          extra="    vm_memory: 20480\n    vm_id: 4242\n")
             + node_entry("wk-0", "192.168.1.11", controller=False, mac="bc:24:11:00:00:11",
                          extra="    vm_sockets: 2\n    vm_startup_order: 9\n    vm_startup_delay: 0\n")
             + node_entry("wk-1", "192.168.1.12", controller=False, mac="bc:24:11:00:00:12"))
    result = tfvars_nodes(render_infra(tmp_path, cluster_yaml(new_credentials(), extra=extra), nodes))

    sizes = {name: (node["cores"], node["sockets"], node["memory"], node["disk_size"]) for name, node in result.items()}
    assert sizes == {
        # cores: controller role; sockets, disk: built-in controller; memory: the node.
        "cp-0": (6, 1, 20480, 64),
        # cores, memory: global; sockets: the node; disk: worker role.
        "wk-0": (3, 2, 10240, 300),
        "wk-1": (3, 1, 10240, 300),
    }
    assert [result[name]["startup_order"] for name in ("cp-0", "wk-0", "wk-1")] == [4, 9, 6]
    assert [result[name]["startup_delay"] for name in ("cp-0", "wk-0", "wk-1")] == [15, 0, 15]
    assert result["cp-0"]["shutdown_delay"] == 60
    assert result["cp-0"]["vm_id"] == 4242 and result["wk-0"]["vm_id"] is None
    assert result["cp-0"]["controller"] is True and result["wk-0"]["controller"] is False
    assert result["wk-1"]["mac_address"] == "bc:24:11:00:00:12"
    assert result["wk-1"]["address"] == "192.168.1.12"


@pytest.mark.parametrize(("extra", "expected"), [
    ("", None),
    ("node_vlan_tag: 30\n", None),  # trunk port: Talos tags the VLAN, the VM NIC stays untagged
    ("node_vlan_tag: 30\nproxmox_vlan_mode: true\n", 30),
])
def test_vlan_tag_only_in_proxmox_vlan_mode(tmp_path, extra, expected):
    result = tfvars_nodes(render_infra(tmp_path, cluster_yaml(new_credentials(), extra=extra), TWO_NODES))
    assert {node["vlan_id"] for node in result.values()} == {expected}


def test_schematic_secureboot_and_mtu_per_node(tmp_path):
    nodes = ("nodes:\n"
             + node_entry("k8s-0", "192.168.1.10", controller=True, mac="bc:24:11:00:00:10",
                          extra="    secureboot: true\n    encrypt_disk: true\n    mtu: 9000\n")
             + node_entry("k8s-1", "192.168.1.11", controller=False, mac="bc:24:11:00:00:11").replace(
                 SCHEMATIC, OTHER_SCHEMATIC))
    result = tfvars_nodes(render_infra(tmp_path, cluster_yaml(new_credentials()), nodes))
    assert (result["k8s-0"]["secureboot"], result["k8s-0"]["mtu"], result["k8s-0"]["schematic_id"]) == \
        (True, 9000, SCHEMATIC)
    assert (result["k8s-1"]["secureboot"], result["k8s-1"]["mtu"], result["k8s-1"]["schematic_id"]) == \
        (False, 1500, OTHER_SCHEMATIC)


FMT_CASES = {
    "two-nodes": ("", TWO_NODES),
    "vlan-secureboot-ids": (
        "node_vlan_tag: 30\nproxmox_vlan_mode: true\nproxmox_vm_advanced:\n  tags: [k8s]\n  machine: i440fx\n",
        "nodes:\n" + node_entry("a-very-long-node-name-0", "192.168.1.10", controller=True, mac="bc:24:11:00:00:10",
                                extra="    secureboot: true\n    vm_id: 100\n")
        + node_entry("b", "192.168.1.11", controller=False, mac="bc:24:11:00:00:11")),
}


@pytest.mark.parametrize("case", sorted(FMT_CASES))
def test_rendered_files_are_fmt_clean(tmp_path, case):
    binary = formatter()
    if binary is None:
        pytest.skip(f"{NO_FORMATTER}, so `fmt -check` cannot run")
    extra, nodes = FMT_CASES[case]
    files = render_infra(tmp_path / "config", cluster_yaml(new_credentials(), extra=extra), nodes)
    out = tmp_path / "tofu"
    out.mkdir()
    for path, text in files.items():
        if path.startswith("infrastructure/tofu/"):
            (out / Path(path).name).write_text(text)
    result = subprocess.run([binary, "fmt", "-check", "-diff", "-recursive"], cwd=out, capture_output=True,
                            text=True, env=tf_env(tmp_path), timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _locals_block(main_tf: str) -> str:
    start = main_tf.index("\nlocals {") + 1
    end = main_tf.index("\n}\n", start) + 3
    return main_tf[start:end]


def test_variables_accept_the_tfvars_and_locals_pick_the_isos(tmp_path):
    """terraform (offline, no providers) type-checks terraform.tfvars against variables.tf and
    evaluates the locals that choose each node's Talos ISO."""
    binary = formatter()
    if binary is None:
        pytest.skip(f"{NO_FORMATTER}, so the tfvars cannot be type-checked")
    nodes = ("nodes:\n"
             + node_entry("k8s-0", "192.168.1.10", controller=True, mac="bc:24:11:00:00:10",
                          extra="    secureboot: true\n")
             + node_entry("k8s-1", "192.168.1.11", controller=False, mac="bc:24:11:00:00:11")
             + node_entry("k8s-2", "192.168.1.12", controller=False, mac="bc:24:11:00:00:12"))
    extra = "proxmox_vm_advanced:\n  machine: i440fx\n"
    files = render_infra(tmp_path / "config", cluster_yaml(new_credentials(), extra=extra), nodes)
    work = tmp_path / "check"
    work.mkdir()
    for name in ("variables.tf", "terraform.tfvars"):
        (work / name).write_text(files[f"infrastructure/tofu/{name}"])
    (work / "locals.tf").write_text(_locals_block(files["infrastructure/tofu/main.tf"]) + """
output "node_isos" {
  value = local.node_isos
}

output "isos" {
  value = local.isos
}

output "machine" {
  value = local.machine
}
""")
    env = {**tf_env(tmp_path), "TF_VAR_proxmox_api_token_id": "x@pve!y", "TF_VAR_proxmox_api_token_secret": "z"}

    def run(*argv: str) -> subprocess.CompletedProcess:
        result = subprocess.run([binary, *argv], cwd=work, capture_output=True, text=True, env=env, timeout=120,
                                check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run("init", "-backend=false", "-input=false")
    run("plan", "-input=false", "-out=check.plan")
    plan = json.loads(run("show", "-json", "check.plan").stdout)
    outputs = {name: value["value"] for name, value in plan["planned_values"]["outputs"].items()}

    version = outputs["node_isos"]["k8s-0"]["url"].split("/")[-2]
    base = f"https://factory.talos.dev/image/{SCHEMATIC}/{version}"
    assert outputs["node_isos"]["k8s-0"]["url"] == f"{base}/metal-amd64-secureboot.iso"
    assert outputs["node_isos"]["k8s-1"]["url"] == f"{base}/metal-amd64.iso"
    assert outputs["node_isos"]["k8s-1"]["key"] == outputs["node_isos"]["k8s-2"]["key"]
    assert len(outputs["isos"]) == 2  # two nodes share the plain ISO: one download
    assert outputs["machine"] == "pc"


def test_a_saved_plan_holds_no_proxmox_token(tmp_path):
    """With the real binary: a planfile stores every variable's value, sensitive ones in the clear,
    so the token variables are ephemeral: absent from `tfplan`, and demanded again by apply."""
    import uuid
    import zipfile

    binary = formatter()
    if binary is None:
        pytest.skip("neither tofu nor terraform is installed")
    files = render_infra(tmp_path / "config", cluster_yaml(new_credentials()), TWO_NODES)
    work = tmp_path / "check"
    work.mkdir()
    for name in ("variables.tf", "terraform.tfvars"):
        (work / name).write_text(files[f"infrastructure/tofu/{name}"])
    token_id, token_secret = f"tofu@pve!{uuid.uuid4().hex}", uuid.uuid4().hex
    env = tf_env(tmp_path)
    tokens = {"TF_VAR_proxmox_api_token_id": token_id, "TF_VAR_proxmox_api_token_secret": token_secret}

    def run(*argv: str, with_tokens: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([binary, *argv], cwd=work, capture_output=True, text=True, timeout=120, check=False,
                              env={**env, **(tokens if with_tokens else {})})

    assert run("init", "-backend=false", "-input=false").returncode == 0
    planned = run("plan", "-input=false", "-out=tfplan")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    with zipfile.ZipFile(work / "tfplan") as plan:
        stored = b"".join(plan.read(name) for name in plan.namelist())
    assert token_id.encode() not in stored and token_secret.encode() not in stored
    assert b"proxmox_node" in stored or b"pve" in stored  # the other variables are in there
    refused = run("apply", "-input=false", "-no-color", "tfplan", with_tokens=False)
    assert refused.returncode == 1 and "must also be set during the apply phase" in refused.stderr
