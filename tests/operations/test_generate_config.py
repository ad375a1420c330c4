"""`inv talos.generate-config` on rendered sample configurations."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from ruamel.yaml import YAML

from cluster_template.tools.sops import sops_command

SIX_NODES = "nodes:\n" + "".join(
    f'  - name: "k8s-{i}"\n    address: "192.168.1.{10 + i}"\n    controller: {str(i < 3).lower()}\n'
    f'    disk: "{"/dev/sda" if i % 2 else "S3F1NX0K90" + str(i)}"\n    mac_addr: "bc:24:11:00:00:{10 + i}"\n'
    f'    schematic_id: "{"c" * 64}"\n    secureboot: {str(i == 5).lower()}\n    encrypt_disk: {str(i == 5).lower()}\n'
    for i in range(6))


def generate(project):
    result = project.inv("talos.generate-config")
    assert result.returncode == 0, result.stderr
    return result


def test_generates_valid_configs_and_an_encrypted_bundle(configured_sample):
    project = configured_sample
    result = generate(project)
    assert "validated against the Talos schema" in result.stdout
    out = project.root / "talos/clusterconfig"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["kubernetes-k8s-0.yaml", "kubernetes-k8s-1.yaml", "talosconfig"]
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bundle = (project.root / "talos/talsecret.sops.yaml").read_text()
    assert "ENC[AES256_GCM" in bundle and "PRIVATE KEY" not in bundle and "LS0tLS1CRUdJTi" not in bundle
    plain = subprocess.run([sops_command(), "--decrypt", str(project.root / "talos/talsecret.sops.yaml")],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "SOPS_AGE_KEY_FILE": str(project.root / "age.key")}).stdout
    secrets = YAML(typ="safe").load(plain)
    controlplane = list(YAML(typ="safe").load_all((out / "kubernetes-k8s-0.yaml").read_text()))
    assert controlplane[0]["cluster"]["id"] == secrets["cluster"]["id"]
    assert controlplane[0]["machine"]["type"] == "controlplane"
    assert controlplane[0]["cluster"]["allowSchedulingOnControlPlanes"] is False
    worker = list(YAML(typ="safe").load_all((out / "kubernetes-k8s-1.yaml").read_text()))
    assert worker[0]["machine"]["type"] == "worker" and worker[0]["machine"]["ca"]["key"] == ""
    kinds = {doc.get("kind") for doc in controlplane}
    assert {"HostnameConfig", "LinkAliasConfig", "LinkConfig", "Layer2VIPConfig"} <= kinds


def test_second_run_changes_nothing(configured_sample):
    project = configured_sample
    generate(project)
    before = project.snapshot()
    result = generate(project)
    assert "wrote: none (2 unchanged)" in result.stdout
    assert project.snapshot() == before


def test_dry_run_writes_nothing(configured_sample):
    project = configured_sample
    before = project.snapshot()
    result = project.inv("--dry", "talos.generate-config")
    assert result.returncode == 0, result.stderr
    assert "would create: talos/talsecret.sops.yaml" in result.stderr
    assert project.snapshot() == before


def test_three_controllers_three_workers(initialized):
    project = initialized
    (project.root / "nodes.yaml").write_text(SIX_NODES)
    assert project.inv("configure", "--yes").returncode == 0
    generate(project)
    files = sorted((project.root / "talos/clusterconfig").glob("kubernetes-*.yaml"))
    assert len(files) == 6
    node5 = list(YAML(typ="safe").load_all(files[5].read_text()))
    assert node5[0]["machine"]["install"]["image"].startswith("factory.talos.dev/installer-secureboot/")
    node0 = list(YAML(typ="safe").load_all(files[0].read_text()))
    assert node0[0]["machine"]["install"]["diskSelector"] == {"serial": "S3F1NX0K900"}


def test_missing_render_is_a_clear_error(initialized):
    result = initialized.inv("talos.generate-config")
    assert result.returncode == 1 and "run `inv configure` first" in result.stderr
    assert "Traceback" not in result.stderr
