"""pytest helpers that put the fake talosctl / flux / helmfile / tofu on PATH.

In tests/conftest.py:

    from tests.fakes.fixtures import fake_tools_factory  # noqa: F401  (registers the fixture)

In a test:

    def test_bootstrap(fake_tools_factory):
        tools = fake_tools_factory(controllers=3, workers=2)
        executor = Executor(env=tools.env)
        ...
        assert tools.cluster.node("10.0.0.11")["stage"] == "running"

or without the fixture: `tools = fake_tools(tmp_path, controllers=1)`.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import fakestate, fakeyaml
from .cluster import Call, FakeCluster

BIN_DIR = Path(__file__).resolve().parent / "bin"
TOOLS = ("talosctl", "flux", "helmfile", "tofu")


@dataclass
class FakeTools:
    """The fakes' environment for one test.

    `env` is a complete environment (os.environ plus the overrides) to pass to subprocesses or to
    `Executor(env=...)`; `overrides` holds only what this helper sets: PATH (the fakes first, then
    this interpreter's directory so `#!/usr/bin/env python3` resolves to it quickly), HOME (an
    empty directory, so `~/.talos` and `~/.kube` of the developer are never touched) and the
    FAKE_* variables."""

    root: Path
    cluster: FakeCluster
    overrides: dict[str, str]
    env: dict[str, str]

    @property
    def bin_dir(self) -> Path:
        return BIN_DIR

    @property
    def state_path(self) -> Path:
        return self.cluster.path

    @property
    def log_path(self) -> Path:
        assert self.cluster.log_path is not None
        return self.cluster.log_path

    def run(self, *argv: str, cwd: Path | None = None, input: str | None = None,
            extra_env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a fake directly (handy in tests of the fakes and for setting up a scenario)."""
        env = {**self.env, **(extra_env or {})}
        return subprocess.run(list(argv), cwd=cwd or self.root, env=env, input=input, capture_output=True,
                              text=True, timeout=timeout)

    def calls(self, tool: str | None = None, *tokens: str) -> list[Call]:
        return self.cluster.calls(tool, *tokens)

    def use_kubeconfig(self, server: str | None = None) -> Path:
        """Write `root/kubeconfig` (pointing at FAKE_KUBE_API_URL, or the cluster endpoint) and
        export it as KUBECONFIG in `env`: flux and helmfile need one, as the real clients do."""
        state = self.cluster.read()
        server = server or self.overrides.get(fakestate.KUBE_API_ENV) or state["cluster"]["endpoint"]
        name = state["cluster"]["name"]
        path = self.root / "kubeconfig"
        path.write_text(fakeyaml.dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": server}}],
            "users": [{"name": f"admin@{name}", "user": {"token": "fake-admin-token"}}],
            "contexts": [{"name": f"admin@{name}", "context": {"cluster": name, "user": f"admin@{name}"}}],
            "current-context": f"admin@{name}",
        }))
        self.env["KUBECONFIG"] = str(path)
        return path


def fake_tools(
    tmp_path: Path,
    *,
    kube_api_url: str | None = None,
    isolate_home: bool = True,
    **cluster_options: object,
) -> FakeTools:
    """Create a simulated cluster under `tmp_path/fake-cluster` and the environment to reach it.

    `cluster_options` go to FakeCluster.create (controllers, workers, stage, talos_version, ...).
    `kube_api_url` becomes FAKE_KUBE_API_URL: the server `talosctl kubeconfig` writes, e.g. the URL
    of a fake Kubernetes API server started by the test."""
    root = Path(tmp_path) / "fake-cluster"
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "calls.jsonl"
    log_path.touch()
    cluster = FakeCluster.create(root / "state.json", log_path=log_path, **cluster_options)  # type: ignore[arg-type]
    interpreter_dir = str(Path(sys.executable).parent)
    overrides = {
        "PATH": os.pathsep.join([str(BIN_DIR), interpreter_dir, os.environ.get("PATH", "")]),
        fakestate.STATE_ENV: str(cluster.path),
        fakestate.LOG_ENV: str(log_path),
    }
    if kube_api_url:
        overrides[fakestate.KUBE_API_ENV] = kube_api_url
    if isolate_home:
        home = root / "home"
        home.mkdir(exist_ok=True)
        overrides["HOME"] = str(home)
    env = {key: value for key, value in os.environ.items() if key not in (
        fakestate.KUBE_API_ENV, "TALOSCONFIG", "KUBECONFIG")}
    env.update(overrides)
    return FakeTools(root=root, cluster=cluster, overrides=overrides, env=env)


@pytest.fixture
def fake_tools_factory(tmp_path: Path):
    """A function building FakeTools in this test's tmp_path: `fake_tools_factory(controllers=3)`."""
    return functools.partial(fake_tools, tmp_path)


@pytest.fixture
def fake_kube():
    """Start a fake Kubernetes API server for a FakeTools: `api = fake_kube(tools)`.

    The server follows `tools`' cluster state; `tools.use_kubeconfig` writes `tools.root/kubeconfig`
    pointing at it (exported as KUBECONFIG in `tools.env`, kept in `api.kubeconfig`), and
    FAKE_KUBE_API_URL makes `talosctl kubeconfig` write the same server. Stopped after the test."""
    from .kube_api import start_kube_api

    started = []

    def start(tools: FakeTools):
        api = start_kube_api(tools.state_path)
        started.append(api)
        tools.overrides[fakestate.KUBE_API_ENV] = api.url
        tools.env[fakestate.KUBE_API_ENV] = api.url
        api.kubeconfig = tools.use_kubeconfig(server=api.url)
        return api

    yield start
    for api in started:
        api.stop()
