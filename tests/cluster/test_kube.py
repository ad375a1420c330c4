"""`Kube` against the fake Kubernetes API server, which follows the fake cluster's state file."""

from __future__ import annotations

import base64
import json
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cluster_template.cluster import (
    DrainTimeout,
    Kube,
    KubeConfigError,
    KubeError,
    KubeManifestError,
    KubeTimeout,
    KubeUnreachable,
)
from cluster_template.errors import ClusterTemplateError
from cluster_template.run import Executor
from tests.fakes.cluster import installer_image, machine_config
from tests.fakes.fixtures import FakeTools

CP, WORKER = "10.0.0.11", "10.0.0.12"
SECRET_VALUE = "s3cr3t-age-key-material"
FAST = {"poll": 0.02}


def running(fake_tools_factory, fake_kube, **options):
    """A working cluster (1 control plane + 1 worker by default), its API server and a Kube on it."""
    tools = fake_tools_factory(**{"controllers": 1, "workers": 1, "stage": "running", **options})
    api = fake_kube(tools)
    ex = Executor()
    return tools, api, ex, Kube(api.kubeconfig, ex, timeout=5)


def notes(ex: Executor) -> list[str]:
    return [event.subject for event in ex.events if event.kind == "note"]


def crd(kind: str = "Widget", plural: str = "widgets", group: str = "example.com") -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced", "names": {"kind": kind, "plural": plural},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                         "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def bundle(size: int = 3, value: str = SECRET_VALUE) -> list[dict]:
    """A custom resource listed before its CRD and before its namespace, a Secret, the CRD."""
    return [
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "gear", "namespace": "apps"},
         "spec": {"size": size, "colour": "blue"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sops-age", "namespace": "apps"},
         "type": "Opaque", "stringData": {"age.agekey": value}},
        crd(),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps", "creationTimestamp": None}},
    ]


# -- nodes ---------------------------------------------------------------------------------------------

def write_config(tools: FakeTools, role: str, hostname: str) -> Path:
    path = tools.root / f"{hostname}.yaml"
    path.write_text(machine_config(role, hostname, image=installer_image("v1.12.11"), cluster_name="home",
                                   endpoint=f"https://{CP}:6443", kubernetes_version="v1.35.0"))
    return path


def test_nodes_register_notready_as_the_cluster_boots_then_turn_ready_with_the_cni(fake_tools_factory, fake_kube):
    tools = fake_tools_factory(controllers=1, workers=1)
    api = fake_kube(tools)
    kube = Kube(api.kubeconfig, Executor(), timeout=5)

    # Before etcd is bootstrapped the API does not answer: a wait reports that and times out.
    heard: list[str] = []
    with pytest.raises(KubeTimeout) as waited:
        kube.wait_for_nodes(2, registered_only=True, timeout=0.2, progress=heard.append, **FAST)
    assert "the API server to answer (the server closed the connection without answering)" in str(waited.value)
    assert heard and "API server" in heard[0]

    for address, role, hostname in ((CP, "controlplane", "cp-1"), (WORKER, "worker", "worker-1")):
        result = tools.run("talosctl", "apply-config", "--insecure", "--nodes", address,
                           "--file", str(write_config(tools, role, hostname)))
        assert result.returncode == 0, result.stderr
    talosconfig = tools.cluster.write_talosconfig(tools.root / "talosconfig")
    tools.cluster.wait_settled()
    assert tools.run("talosctl", "--talosconfig", str(talosconfig), "bootstrap", "--nodes", CP).returncode == 0
    # The kubeconfig talosctl writes (token user, FAKE_KUBE_API_URL server) works for Kube.
    (tools.root / "fetched").mkdir()
    fetched = tools.run("talosctl", "--talosconfig", str(talosconfig), "kubeconfig", str(tools.root / "fetched"),
                        "--nodes", CP, "--force")
    assert fetched.returncode == 0, fetched.stderr
    kube = Kube(tools.root / "fetched" / "kubeconfig", Executor(), timeout=5)

    nodes = kube.wait_for_nodes(2, registered_only=True, timeout=5, **FAST)
    assert [(n.name, n.ready, n.ready_reason) for n in nodes] == [
        ("cp-1", False, "KubeletNotReady"), ("worker-1", False, "KubeletNotReady")]
    assert "cni plugin not initialized" in nodes[0].ready_message
    assert nodes[0].control_plane and not nodes[1].control_plane
    assert (nodes[1].internal_ip, nodes[1].kubelet_version) == (WORKER, "v1.35.0")

    with pytest.raises(KubeTimeout) as not_ready:
        kube.wait_for_nodes({"cp-1", "worker-1"}, timeout=0.1, **FAST)
    assert "cp-1 (NotReady: KubeletNotReady)" in str(not_ready.value)
    assert "worker-1 (NotReady: KubeletNotReady)" in str(not_ready.value)
    assert not {node.name: node.ready for node in kube.nodes()}["cp-1"]

    tools.cluster.set_cni_ready(True)
    heard.clear()
    ready = kube.wait_for_nodes({"cp-1", "worker-1"}, timeout=5, progress=heard.append, **FAST)
    assert all(node.ready for node in ready) and heard == ["2/2 nodes Ready"]
    assert {node.name: node.ready for node in kube.nodes()} == {"cp-1": True, "worker-1": True}
    assert [node.name for node in kube.wait_for_nodes("worker-1", timeout=1, **FAST)] == ["cp-1", "worker-1"]


def test_wait_for_a_count_names_what_is_missing(fake_tools_factory, fake_kube):
    tools, _api, _ex, kube = running(fake_tools_factory, fake_kube, workers=0)
    assert [node.name for node in kube.wait_for_nodes(1, timeout=1, **FAST)] == ["k8s-0"]
    with pytest.raises(KubeTimeout) as waited:
        kube.wait_for_nodes(3, registered_only=True, timeout=0.1, **FAST)
    assert waited.value.waiting_for == ["2 more nodes to register"]
    with pytest.raises(KubeTimeout) as named:
        kube.wait_for_nodes({"k8s-0", "k8s-9"}, registered_only=True, timeout=0.1, **FAST)
    assert named.value.waiting_for == ["k8s-9 (not registered)"]


def test_a_rebooting_node_stays_registered_with_an_unknown_status(fake_tools_factory, fake_kube):
    tools, _api, _ex, kube = running(fake_tools_factory, fake_kube)
    with tools.cluster.edit() as state:
        state["nodes"][1]["stage"] = "rebooting"
    worker = next(node for node in kube.nodes() if node.name == "k8s-worker-0")
    assert (worker.ready, worker.ready_reason) == (False, "NodeStatusUnknown")
    assert kube.version() == "v1.35.0"
    with tools.cluster.edit() as state:
        state["cluster"]["kubernetes_version"] = "v1.35.2"
    assert kube.version() == "v1.35.2"


# -- namespaces and server-side apply ----------------------------------------------------------------------

def test_namespaces_are_created_once_then_unchanged(fake_tools_factory, fake_kube):
    _tools, api, ex, kube = running(fake_tools_factory, fake_kube)
    assert kube.namespace_exists("flux-system") and not kube.namespace_exists("network")
    assert kube.ensure_namespaces(["flux-system", "network", "network"]) == [
        ("flux-system", "unchanged"), ("network", "created")]
    assert kube.ensure_namespaces(["flux-system", "network"]) == [
        ("flux-system", "unchanged"), ("network", "unchanged")]
    assert [seen.method + " " + seen.path for seen in api.writes()] == ["POST /api/v1/namespaces"]
    assert notes(ex) == ["create: Namespace/network"]
    assert "network" in [ns["metadata"]["name"] for ns in api.objects("Namespace")]


def test_apply_creates_then_leaves_unchanged_then_configures(fake_tools_factory, fake_kube):
    _tools, api, ex, kube = running(fake_tools_factory, fake_kube)
    expected_subjects = ["Widget/apps/gear", "Secret/apps/sops-age", "CustomResourceDefinition/widgets.example.com",
                         "Namespace/apps"]

    first = kube.apply(bundle())
    assert first == [(subject, "created") for subject in expected_subjects]
    patches = [seen for seen in api.writes() if seen.method == "PATCH"]
    assert [seen.path for seen in patches] == [  # namespace, then CRD, then the rest in document order
        "/api/v1/namespaces/apps", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        "/apis/example.com/v1/namespaces/apps/widgets/gear", "/api/v1/namespaces/apps/secrets/sops-age"]
    assert {(seen.content_type, seen.query["fieldManager"]) for seen in patches} == {
        ("application/apply-patch+yaml", "cluster-template")}
    secret = api.objects("Secret")[0]
    assert base64.b64decode(secret["data"]["age.agekey"]).decode() == SECRET_VALUE
    assert api.objects("Widget")[0]["spec"] == {"size": 3, "colour": "blue"}

    writes_before = len(api.writes())
    assert kube.apply(bundle()) == [(subject, "unchanged") for subject in expected_subjects]
    assert len(api.writes()) == writes_before, "a re-run must not send anything"

    changed = kube.apply(bundle(size=4, value="another-secret-value"))
    assert [action for _subject, action in changed] == ["configured", "configured", "unchanged", "unchanged"]
    assert api.objects("Widget")[0]["spec"]["size"] == 4

    # A field this manager applied before and the document no longer sets would be removed.
    trimmed = bundle(size=4, value="another-secret-value")
    del trimmed[0]["spec"]["colour"]
    assert kube.apply(trimmed)[0] == ("Widget/apps/gear", "configured")
    assert api.objects("Widget")[0]["spec"] == {"size": 4}
    assert kube.apply(trimmed)[0] == ("Widget/apps/gear", "unchanged")

    reported = "\n".join(notes(ex))
    assert "create: Secret/apps/sops-age" in reported and "configure: Widget/apps/gear" in reported
    assert SECRET_VALUE not in reported and "another-secret-value" not in reported
    assert SECRET_VALUE in ex.redactor and ex.redactor.redact(f"x {SECRET_VALUE} y") == "x [REDACTED] y"


def test_apply_reports_conflicts_and_forces_them_when_asked(fake_tools_factory, fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "a"}}
    assert kube.apply([config], field_manager="helm") == [("ConfigMap/default/settings", "created")]
    ours = {**config, "data": {"mode": "b"}}
    with pytest.raises(KubeError) as conflict:
        kube.apply([ours])
    assert (conflict.value.status, conflict.value.reason) == (409, "Conflict")
    assert 'conflict with "helm"' in str(conflict.value) and ".data.mode" in str(conflict.value)
    assert str(conflict.value).startswith("apply ConfigMap/default/settings: the Kubernetes API answered 409 Conflict")
    assert kube.apply([ours], force_conflicts=True) == [("ConfigMap/default/settings", "configured")]
    assert api.objects("ConfigMap")[0]["data"] == {"mode": "b"}
    assert api.writes()[-1].query["force"] == "true"


def test_apply_places_documents_like_kubectl(fake_tools_factory, fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    stray_namespace = {**crd("Gizmo", "gizmos"), "metadata": {"name": "gizmos.example.com", "namespace": "apps"}}
    documents = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}},
                 stray_namespace]
    assert kube.apply(documents) == [("ConfigMap/default/settings", "created"),
                                     ("CustomResourceDefinition/gizmos.example.com", "created")]
    assert kube.apply(documents) == [("ConfigMap/default/settings", "unchanged"),
                                     ("CustomResourceDefinition/gizmos.example.com", "unchanged")]
    assert api.objects("ConfigMap")[0]["metadata"]["namespace"] == "default"
    assert "namespace" not in api.objects("CustomResourceDefinition")[0]["metadata"]


def test_apply_rejects_documents_it_cannot_place(fake_tools_factory, fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    with pytest.raises(KubeManifestError, match="has no metadata.name"):
        kube.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}])
    with pytest.raises(KubeManifestError, match="does not serve kind Gadget in example.com/v1"):
        kube.apply([{"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}])
    with pytest.raises(KubeError) as missing_namespace:
        kube.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "nowhere"}}])
    assert missing_namespace.value.status == 404 and 'namespaces "nowhere" not found' in str(missing_namespace.value)
    assert api.writes()[-1].method == "PATCH"


def test_dry_mode_reads_but_changes_nothing(fake_tools_factory, fake_kube):
    tools = fake_tools_factory(controllers=1, workers=1, stage="running")
    api = fake_kube(tools)
    api.add_pod("k8s-worker-0", "web-0")
    ex = Executor(dry=True)
    kube = Kube(api.kubeconfig, ex, timeout=5)

    assert kube.ensure_namespaces(["network", "flux-system"]) == [("network", "created"), ("flux-system", "unchanged")]
    assert [action for _subject, action in kube.apply(bundle())] == ["created"] * 4
    assert kube.cordon("k8s-worker-0") is True
    assert kube.drain("k8s-worker-0", timeout=1, **FAST) == ["default/web-0"]
    assert kube.uncordon("k8s-worker-0") is False
    assert len(kube.nodes()) == 2

    assert api.writes() == []
    assert not tools.cluster.node(WORKER)["cordoned"]
    assert [pod["metadata"]["name"] for pod in api.objects("Pod")] == ["web-0"]
    assert notes(ex)[:2] == ["would create: Namespace/network", "would create: Namespace/apps"]
    assert "would evict: pod/default/web-0" in notes(ex) and "would cordon: node/k8s-worker-0" in notes(ex)
    assert all(note.startswith("would ") for note in notes(ex))


# -- Flux -------------------------------------------------------------------------------------------------

def test_flux_readiness_is_what_the_fake_flux_cli_reports(fake_tools_factory, fake_kube):
    tools, _api, _ex, kube = running(fake_tools_factory, fake_kube)
    ready, message = kube.flux_ready("Kustomization", "flux-system", "flux-system")
    assert ready is True and message.startswith("Applied revision: refs/heads/main@sha1:")
    assert kube.flux_ready("GitRepository", "flux-system", "flux-system")[0] is True
    assert kube.flux_ready("HelmRelease", "flux-system", "cilium") == (
        None, "HelmRelease flux-system/cilium does not exist yet")

    tools.cluster.set_kustomization("cluster-apps", ready=False, message="kustomize build failed: missing file")
    tools.cluster.set_helmrelease("cilium", "kube-system", suspended=True)
    assert kube.flux_ready("Kustomization", "flux-system", "cluster-apps") == (
        False, "kustomize build failed: missing file")
    cli = tools.run("flux", "get", "kustomizations", "cluster-apps")
    assert cli.returncode == 0, cli.stderr
    assert "False" in cli.stdout and "kustomize build failed: missing file" in cli.stdout
    assert kube.flux_ready("HelmRelease", "kube-system", "cilium")[1].startswith("suspended; Helm upgrade succeeded")

    targets = [("GitRepository", "flux-system", "flux-system"), ("Kustomization", "flux-system", "cluster-apps")]
    with pytest.raises(KubeTimeout) as waited:
        kube.wait_flux_ready(targets, timeout=0.1, **FAST)
    assert waited.value.waiting_for == ["Kustomization/flux-system/cluster-apps (kustomize build failed: missing file)"]

    tools.cluster.set_kustomization("cluster-apps", ready=True, message="Applied revision: main@sha1:abc")
    assert kube.wait_flux_ready(targets, timeout=1, **FAST)[1] == (
        "Kustomization/flux-system/cluster-apps", "Applied revision: main@sha1:abc")

    tools.cluster.set_flux_installed(False)
    assert kube.flux_ready("Kustomization", "flux-system", "flux-system")[0] is None
    assert kube.get_custom("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "flux-system", "flux-system") is None
    with pytest.raises(ValueError, match="unknown Flux kind"):
        kube.flux_ready("Bucket", "flux-system", "b")


# -- cordon and drain -----------------------------------------------------------------------------------------

def test_drain_evicts_through_pdb_refusals_and_cordon_state_reaches_the_cluster(fake_tools_factory, fake_kube):
    tools, api, ex, kube = running(fake_tools_factory, fake_kube)
    api.add_pod("k8s-worker-0", "web-0", "apps")
    api.add_pod("k8s-worker-0", "cache-0", "apps", grace_seconds=0.1)
    api.add_pod("k8s-worker-0", "cilium-abcde", "kube-system", daemonset=True)
    api.add_pod("k8s-worker-0", "static-web", "kube-system", mirror=True)
    api.add_pod("k8s-0", "api-0", "apps")
    api.refuse_evictions("apps/web-0", times=2)

    heard: list[str] = []
    assert kube.drain("k8s-worker-0", timeout=5, progress=heard.append, **FAST) == ["apps/cache-0", "apps/web-0"]
    assert tools.cluster.node(WORKER)["cordoned"] is True
    assert next(n for n in kube.nodes() if n.name == "k8s-worker-0").unschedulable
    assert sorted(api.evictions) == ["apps/cache-0", "apps/web-0"]  # refused attempts are not evictions
    assert sorted(p["metadata"]["name"] for p in api.objects("Pod")) == ["api-0", "cilium-abcde", "static-web"]
    assert any("refused, retrying: Cannot evict pod as it would violate the pod's disruption budget." in line
               for line in heard)
    assert notes(ex) == ["cordon: node/k8s-worker-0", "evict: pod/apps/cache-0", "evict: pod/apps/web-0"]

    assert kube.cordon("k8s-worker-0") is False
    assert kube.uncordon("k8s-worker-0") is True
    assert tools.cluster.node(WORKER)["cordoned"] is False
    assert kube.uncordon("k8s-worker-0") is False
    assert kube.drain("k8s-worker-0", timeout=1, **FAST) == []
    with pytest.raises(KubeError) as missing:
        kube.cordon("k8s-9")
    assert missing.value.status == 404


def test_drain_times_out_naming_the_pods_left(fake_tools_factory, fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    api.add_pod("k8s-worker-0", "db-0", "data")
    api.add_pod("k8s-worker-0", "slow-0", "data", grace_seconds=30)
    api.refuse_evictions("data/db-0", times=10**6)
    started = time.monotonic()
    with pytest.raises(DrainTimeout) as timed_out:
        kube.drain("k8s-worker-0", timeout=0.3, **FAST)
    # Ended by its own timeout, not by slow-0's 30 s grace period (nor never, for db-0).
    assert time.monotonic() - started < 20
    assert timed_out.value.pods == ["data/db-0", "data/slow-0"]
    message = str(timed_out.value)
    assert message.startswith("timed out after 0.3s waiting for node k8s-worker-0 to drain")
    assert "data/db-0 (eviction refused: Cannot evict pod" in message
    assert "data/slow-0 (still terminating)" in message


# -- failures -----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_and_bad_kubeconfigs_give_clear_errors(fake_tools_factory, fake_kube, tmp_path,
                                                                monkeypatch):
    tools, api, _ex, _kube = running(fake_tools_factory, fake_kube)
    dead = f"http://127.0.0.1:{free_port()}"
    path = tools.use_kubeconfig(server=dead)
    # The user's own kubeconfig is never consulted, only the file given.
    monkeypatch.setenv("KUBECONFIG", str(api.write_kubeconfig(tmp_path / "user-kubeconfig")))
    kube = Kube(path, Executor(), timeout=2)
    assert kube.server == dead
    with pytest.raises(KubeUnreachable) as unreachable:
        kube.nodes()
    assert isinstance(unreachable.value, ClusterTemplateError)
    assert str(unreachable.value).startswith(f"cannot reach the Kubernetes API server at {dead}: connection refused")
    assert "Traceback" not in str(unreachable.value) and "object at 0x" not in str(unreachable.value)

    with pytest.raises(KubeConfigError, match="does not exist"):
        Kube(tmp_path / "missing", Executor())
    (tmp_path / "broken").write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(KubeConfigError, match="cannot use the kubeconfig"):
        Kube(tmp_path / "broken", Executor())

    wrong_token = api.write_kubeconfig(tmp_path / "wrong-token")
    wrong_token.write_text(wrong_token.read_text().replace("fake-admin-token", "stale-token"))
    with pytest.raises(KubeError) as rejected:
        Kube(wrong_token, Executor()).version()
    assert rejected.value.status == 401 and "credentials were rejected" in str(rejected.value)


def test_fake_server_answers_unknown_paths_with_a_status_object(fake_tools_factory, fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    request = urllib.request.Request(api.url + "/apis/nothing.example.com/v1/things",
                                     headers={"Authorization": "Bearer fake-admin-token"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    status = json.loads(answer.value.read())
    assert (answer.value.code, status["kind"], status["reason"]) == (404, "Status", "NotFound")
    assert kube.get_custom("nothing.example.com", "v1", "things", "default", "x") is None


def self_signed(directory: Path) -> tuple[Path, Path, bytes]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate file, key file, PEM)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-apiserver")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / "server.crt").write_bytes(pem)
    (directory / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return directory / "server.crt", directory / "server.key", pem


def test_https_servers_need_the_kubeconfig_ca(fake_tools_factory, tmp_path):
    from tests.fakes.kube_api import start_kube_api

    tools = fake_tools_factory(controllers=1, stage="running")
    certificate, key, pem = self_signed(tmp_path)
    api = start_kube_api(tools.state_path, tls=(certificate, key))
    try:
        assert api.url.startswith("https://")
        trusted = Kube(api.write_kubeconfig(tmp_path / "trusted", ca_pem=pem), Executor(), timeout=5)
        assert trusted.version() == "v1.35.0"
        untrusted = Kube(api.write_kubeconfig(tmp_path / "untrusted"), Executor(), timeout=5)
        with pytest.raises(KubeUnreachable) as refused:
            untrusted.nodes()
        assert f"at {api.url}: TLS error: certificate verify failed" in str(refused.value)
        assert "_ssl.c" not in str(refused.value)
    finally:
        api.stop()


# -- server-side apply of a Deployment: associative lists in managedFields --------------------------------

def deployment(*, env: bool = True, image: str = "ghcr.io/example/web:1.2.3", sidecar: bool = True) -> dict:
    web = {"name": "web", "image": image, "ports": [{"containerPort": 8080, "name": "http"}],
           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    if env:
        web["env"] = [{"name": "MODE", "value": "production"}, {"name": "LEVEL", "value": "info"}]
    containers = [web] + ([{"name": "proxy", "image": "ghcr.io/example/proxy:0.9.0", "args": ["--port", "9090"]}]
                          if sidecar else [])
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default",
                                                                         "labels": {"app": "web"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}]}}}}


def test_a_deployment_reapplied_is_unchanged_and_a_dropped_field_inside_a_container_is_not(fake_tools_factory,
                                                                                          fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    assert kube.apply([deployment()]) == [("Deployment/default/web", "created")]
    (live,) = api.objects("Deployment")
    # The server defaulted fields the document does not set, and owns them in the real format.
    web = live["spec"]["template"]["spec"]["containers"][0]
    assert (web["imagePullPolicy"], web["ports"][0]["protocol"]) == ("IfNotPresent", "TCP")
    assert live["spec"]["replicas"] == 1
    (entry,) = live["metadata"]["managedFields"]
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(containers) == {'k:{"name":"web"}', 'k:{"name":"proxy"}'}
    assert containers['k:{"name":"web"}']["f:ports"] == {
        'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:name": {}}}
    assert set(containers['k:{"name":"web"}']["f:env"]) == {'k:{"name":"MODE"}', 'k:{"name":"LEVEL"}'}
    assert containers['k:{"name":"proxy"}']["f:args"] == {}, "a list without merge keys is atomic"

    writes = len(api.writes())
    assert kube.apply([deployment()]) == [("Deployment/default/web", "unchanged")]
    assert len(api.writes()) == writes, "a re-run sends nothing"

    # Server-side apply would remove the env this manager set: the item-level ownership shows it.
    assert kube.apply([deployment(env=False)]) == [("Deployment/default/web", "configured")]
    assert "env" not in api.objects("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert kube.apply([deployment(env=False)]) == [("Deployment/default/web", "unchanged")]

    assert kube.apply([deployment(env=False, image="ghcr.io/example/web:1.2.4")]) == [
        ("Deployment/default/web", "configured")]
    assert kube.apply([deployment(env=False, image="ghcr.io/example/web:1.2.4", sidecar=False)]) == [
        ("Deployment/default/web", "configured")]
    names = [c["name"] for c in api.objects("Deployment")[0]["spec"]["template"]["spec"]["containers"]]
    assert names == ["web"]
    assert kube.apply([deployment(env=False, image="ghcr.io/example/web:1.2.4", sidecar=False)]) == [
        ("Deployment/default/web", "unchanged")]


def test_another_managers_container_is_kept_and_conflicts_name_the_item(fake_tools_factory, fake_kube):
    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    kube.apply([deployment(sidecar=False)])
    theirs = deployment(sidecar=False)
    theirs["spec"]["template"]["spec"]["containers"] = [{"name": "web", "image": "ghcr.io/example/web:9.9.9"},
                                                        {"name": "injected", "image": "ghcr.io/example/mesh:1.0.0"}]
    del theirs["spec"]["template"]["spec"]["volumes"]
    with pytest.raises(KubeError) as conflict:
        kube.apply([theirs], field_manager="mesh")
    assert '.spec.template.spec.containers[name="web"].image' in str(conflict.value)
    del theirs["spec"]["template"]["spec"]["containers"][0]
    assert kube.apply([theirs], field_manager="mesh") == [("Deployment/default/web", "configured")]
    names = [c["name"] for c in api.objects("Deployment")[0]["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "injected"], "an applied item merges into the list by its key"
    assert kube.apply([deployment(sidecar=False)]) == [("Deployment/default/web", "unchanged")]


def test_apply_against_a_server_that_never_answers_times_out_and_leaves_no_discovery_cache(fake_tools_factory,
                                                                                             fake_kube, tmp_path,
                                                                                             monkeypatch):
    tools, _api, _ex, _kube = running(fake_tools_factory, fake_kube)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    try:
        path = tools.use_kubeconfig(server=f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the client's discovery keeps its cache
        started = time.monotonic()
        with pytest.raises(KubeUnreachable, match="no answer within 1s"):
            Kube(path, Executor(), timeout=1).apply([{"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"name": "settings"}}])
        assert time.monotonic() - started < 10, "every discovery request has the timeout"
    finally:
        silent.close()

    _tools, api, _ex, kube = running(fake_tools_factory, fake_kube)
    before = set(tmp_path.iterdir())
    assert kube.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}]) == [
        ("ConfigMap/default/settings", "created")]
    assert set(tmp_path.iterdir()) == before, "discovery is kept in memory, no cache file is written"
