"""`inv --dry bootstrap.*` makes a plan on a machine without talosctl and helmfile (as the seed's CI
ran `task bootstrap:talos --dry`): every command in order, node addresses from nodes.yaml, no
secret, nothing touched."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def env_without_operator_tools() -> dict[str, str]:
    paths = [str(Path(sys.executable).parent), "/usr/bin", "/bin"]
    path = os.pathsep.join(paths)
    if shutil.which("talosctl", path=path) or shutil.which("helmfile", path=path):
        pytest.skip("talosctl or helmfile is installed on this machine")
    return {"PATH": path}


@pytest.mark.slow
def test_dry_bootstrap_talos_and_apps_plan_without_the_tools(configured_sample):
    project = configured_sample
    env = env_without_operator_tools()
    before = project.snapshot()
    talos = project.inv("--dry", "bootstrap.talos", env=env)
    assert talos.returncode == 0, talos.stdout + talos.stderr
    output = talos.stdout + talos.stderr
    apply_0 = output.index("would run: talosctl apply-config --file")
    assert "--nodes 192.168.1.10" in output[apply_0:] and "--nodes 192.168.1.11" in output
    assert apply_0 < output.index("would run: talosctl --talosconfig") < output.index(" kubeconfig ")
    assert "dry run: would do machine configs, apply k8s-0, apply k8s-1" in talos.stdout
    apps = project.inv("--dry", "bootstrap.apps", env=env)
    assert apps.returncode == 0, apps.stdout + apps.stderr
    assert "would run: helmfile --file" in apps.stdout + apps.stderr and "01-apps.yaml sync" in apps.stdout + apps.stderr
    everything = output + apps.stdout + apps.stderr
    for secret_file in ("age.key", "github-push-token.txt"):
        for line in (project.root / secret_file).read_text().splitlines():
            if len(line) > 20 and not line.startswith("#"):
                assert line not in everything
    assert "replace-me-with-your-cloudflare-api-token" not in everything
    assert project.snapshot() == before
