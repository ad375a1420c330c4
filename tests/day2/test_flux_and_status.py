"""`inv reconcile`, `inv status` and `inv template.debug` against fake Flux states."""

from __future__ import annotations

import json

import pytest

from .conftest import make_day2

BROKEN = "kustomize build failed: accumulating resources: 'apps/broken': no such file or directory"


def flux_calls(day2, *tokens: str) -> list:
    return day2.cluster.calls("flux", *tokens)


def test_reconcile_reconciles_root_with_source_and_reports_ready(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, kube=fake_kube)
    day2.cluster.set_kustomization("cluster-apps", ready=True)

    result = day2.inv("reconcile")

    assert result.returncode == 0, result.stdout + result.stderr
    (call,) = flux_calls(day2, "reconcile")
    assert call.has("kustomization", "flux-system", "--with-source", "--namespace", "flux-system")
    state = day2.cluster.read()["flux"]
    assert state["gitrepositories"][0]["reconcile_count"] == 1, "the source was fetched"
    assert "✔ Kustomization flux-system/flux-system: Ready=True" in result.stdout
    assert "✔ Kustomization flux-system/cluster-apps: Ready=True" in result.stdout


def test_reconcile_reports_a_kustomization_that_stays_not_ready(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, kube=fake_kube)
    day2.cluster.set_kustomization("cluster-apps", ready=False, message=BROKEN)

    result = day2.inv("reconcile", "--timeout", "2")

    assert result.returncode == 1
    assert f"✗ Kustomization flux-system/cluster-apps: Ready=False — {BROKEN}" in result.stdout
    assert "✔ Kustomization flux-system/flux-system: Ready=True" in result.stdout


def test_reconcile_reports_a_failing_root_at_once(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, kube=fake_kube)
    day2.cluster.set_kustomization("flux-system", ready=False, message="decryption failed: no age key")

    result = day2.inv("reconcile", "--timeout", "60")

    assert result.returncode == 1
    assert "✗ flux reconcile: Kustomization reconciliation failed: decryption failed: no age key" in result.stdout
    assert "cluster-apps: Ready=missing" in result.stdout


@pytest.mark.slow
def test_status_highlights_what_is_not_ready_and_why(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    day2.cluster.set_kustomization("cluster-apps", ready=False, message=BROKEN)
    day2.cluster.set_helmrelease("cilium", "kube-system", ready=True)
    day2.cluster.set_helmrelease("cert-manager", "cert-manager", ready=False,
                                 message="install retries exhausted")
    day2.cluster.set_health_fail(day2.node_ip("k8s-0"))

    result = day2.inv("status")

    assert result.returncode == 1
    text = result.stdout
    kustomization_line = next(line for line in text.splitlines() if " cluster-apps " in line)
    assert kustomization_line.startswith("✗") and "False" in kustomization_line
    assert f"✗ flux-system/cluster-apps: {BROKEN}" in text
    assert "✗ cert-manager/cert-manager: install retries exhausted" in text
    cilium_line = next(line for line in text.splitlines() if " cilium " in line)
    assert not cilium_line.startswith("✗")
    assert "✗ k8s-0: etcdserver: no leader" in text, "etcd status errors are reported"
    assert "cert-manager.io" in text, "Certificates are not served: said so"
    node_line = next(line for line in text.splitlines() if line.lstrip(" ✗").startswith("k8s-worker-0"))
    assert "Ready" in node_line and "v1.12.11 (target v1.12.12)" in node_line

    as_json = day2.inv("status", "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert f"Flux Kustomizations: flux-system/cluster-apps: {BROKEN}" in report["problems"]
    kustomizations = next(s for s in report["sections"] if s["title"] == "Flux Kustomizations")
    assert {row["name"]: row["ok"] for row in kustomizations["rows"]} == {"cluster-apps": False, "flux-system": True}


def test_status_reads_flux_through_the_api_so_a_multi_line_message_stays_one_row(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    message = "kustomize build failed:\n  accumulating resources: 'apps/broken'\n  no such file or directory"
    day2.cluster.set_kustomization("cluster-apps", ready=False, message=message)
    day2.cluster.set_helmrelease("cilium", "kube-system", ready=True, revision="1.18.4")

    result = day2.inv("status", "--json")

    assert result.returncode == 1
    report = json.loads(result.stdout)
    sections = {section["title"]: section for section in report["sections"]}
    rows = sections["Flux Kustomizations"]["rows"]
    assert [(row["name"], row["ok"]) for row in rows] == [("cluster-apps", False), ("flux-system", True)]
    assert rows[0]["message"] == message and rows[0]["revision"]
    assert [(row["name"], row["revision"]) for row in sections["Flux HelmReleases"]["rows"]] == [("cilium", "1.18.4")]
    assert flux_calls(day2, "get") == [], "no `flux get` table is parsed"
    text = day2.inv("status").stdout
    assert "kustomize build failed: accumulating resources: 'apps/broken' no such file" in text


def test_status_is_zero_when_everything_is_ready(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    install_certificates(day2, ready=True)

    result = day2.inv("status", "--json")

    report = json.loads(result.stdout)
    assert result.returncode == 0, report["problems"]
    assert report["ok"] is True and report["problems"] == []
    certificates = next(s for s in report["sections"] if s["title"] == "Certificates")
    assert [row["name"] for row in certificates["rows"]] == ["wildcard-production"]


def test_template_debug_lists_the_seed_resources(tmp_path, fake_kube):
    day2 = make_day2(tmp_path, controllers=1, workers=1, kube=fake_kube)
    day2.cluster.set_kustomization("cluster-apps", ready=False, message=BROKEN)
    install_certificates(day2, ready=False)
    day2.api.add_pod("k8s-worker-0", "echo-0", "default")

    result = day2.inv("template.debug")

    assert result.returncode == 0, result.stderr
    titles = [line[3:] for line in result.stdout.splitlines() if line.startswith("== ")]
    assert titles == ["certificates.cert-manager.io", "certificaterequests.cert-manager.io",
                      "gitrepositories.source.toolkit.fluxcd.io", "helmrepositories.source.toolkit.fluxcd.io",
                      "ocirepositories.source.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io",
                      "httproutes.gateway.networking.k8s.io", "kustomizations.kustomize.toolkit.fluxcd.io",
                      "nodes", "pods"]
    assert "✗ network/wildcard-production: Issuing certificate as Secret does not exist" in result.stdout
    assert f"✗ flux-system/cluster-apps: {BROKEN}" in result.stdout
    assert "not served by this cluster" in result.stdout  # httproutes: no Gateway API CRDs here
    rows = {tuple(line.lstrip("✗ ").split()[:2]) for line in result.stdout.splitlines()}
    assert ("default", "echo-0") in rows and ("k8s-worker-0", "Ready") in rows
    assert "✗ default/echo-0" not in result.stdout, "a running pod is healthy"


def install_certificates(day2, *, ready: bool) -> None:
    """A Certificate CRD and one Certificate through the real client (the fake API keeps them)."""
    from cluster_template.cluster import Kube
    from cluster_template.run import Executor

    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "certificates.cert-manager.io"},
           "spec": {"group": "cert-manager.io", "scope": "Namespaced",
                    "names": {"kind": "Certificate", "plural": "certificates", "singular": "certificate"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    condition = {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "Ready" if ready else "DoesNotExist",
                 "message": "Certificate is up to date and has not expired" if ready else
                 "Issuing certificate as Secret does not exist"}
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "wildcard-production", "namespace": "network"},
                   "spec": {"secretName": "wildcard-production-tls"},
                   "status": {"conditions": [condition]}}
    with Kube(day2.root / "kubeconfig", Executor(env=day2.tools.env)) as kube:
        kube.ensure_namespaces(["network"])
        kube.apply([crd, certificate])


def test_status_asks_every_controller_about_etcd(tmp_path, fake_kube):
    """The first controller down does not blank the etcd table, and a controller running an etcd
    of its own (a split brain) is named."""
    day2 = make_day2(tmp_path, controllers=3, kube=fake_kube)
    day2.cluster.set_unreachable(day2.node_ip("k8s-0"))

    text = day2.inv("status").stdout

    names = {"k8s-0", "k8s-1", "k8s-2"}
    rows = {line.lstrip("✗ ").split()[0]: line for line in text.split("== etcd")[1].split("== ")[0].splitlines()
            if line.strip() and line.lstrip("✗ ").split()[0] in names}
    assert set(rows) == {"k8s-0", "k8s-1", "k8s-2"}, text
    assert not rows["k8s-1"].startswith("✗") and not rows["k8s-2"].startswith("✗"), text
    assert "✗ k8s-0: did not answer etcd status" in text

    day2.cluster.set_unreachable(day2.node_ip("k8s-0"), False)
    day2.cluster.start_second_etcd("k8s-2")
    split = day2.inv("status").stdout
    assert "✗ k8s-2: its etcd lists other members (k8s-2)" in split, split
