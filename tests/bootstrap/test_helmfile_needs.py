"""The bootstrap helmfile our templates render installs the releases in the order the cluster
needs: the CNI first (every other pod waits for it), Flux last, every `needs` naming a release of
the file. helmfile orders a sync by `needs` alone, so this order is ours to get right."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from tests.components.test_platform import Renderer, initialized_copy

APPS = "bootstrap/helmfile.d/01-apps.yaml"


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("helmfile-needs") / "repo"))


def sync_order(text: str) -> list[str]:
    """The releases in an order helmfile may install them: each after everything it needs.
    Fails on a need no release of the file defines, and on a cycle."""
    releases = YAML(typ="safe").load(text)["releases"]
    needs = {f"{r['namespace']}/{r['name']}": list(r.get("needs") or []) for r in releases}
    for release, wanted in needs.items():
        undefined = [need for need in wanted if need not in needs]
        assert not undefined, f"{release} needs {undefined}, which the file does not define"
    order: list[str] = []
    while len(order) < len(needs):
        ready = [r for r, wanted in needs.items() if r not in order and all(n in order for n in wanted)]
        assert ready, f"the needs of {sorted(set(needs) - set(order))} form a cycle"
        order += ready
    return order


@pytest.mark.parametrize("spegel", [True, False])
def test_the_cni_comes_first_and_flux_last(render, spegel):
    order = sync_order(render({"spegel_enabled": spegel})[APPS].decode())
    base = ["kube-system/cilium", "kube-system/coredns"] + (["kube-system/spegel"] if spegel else [])
    assert order == [*base, "cert-manager/cert-manager", "flux-system/flux-operator", "flux-system/flux-instance"]
