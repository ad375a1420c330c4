"""Platform components (issue 7): observability, Hubble, RustFS, CiliumNetworkPolicies, Talos
backup and JWT at the gateway.

Three kinds of checks:

- end to end: `inv configure --yes` with every component on (with and without RustFS) renders a tree
  that `validate_tree` accepts, a second run changes nothing, and removing the keys again removes
  every component file;
- per component, rendered in-process (no sops, no validation, so it is fast): off -> none of its
  files, on -> its files, and every kustomization lists only files that exist;
- the derived flags and dependency rules the templates act on (Loki on RustFS, monitoring flags,
  audit vs enforce, Grafana SSO).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from ruamel.yaml import YAML

from cluster_template.ops.configure import build_context
from cluster_template.render import render_templates
from cluster_template.run import Executor
from cluster_template.validate import ValidationReport, validate_tree
from tests.conftest import SCHEMA_DIR, Project, copy_project

SAMPLE_TUNNEL = "templates/samples/cloudflare-tunnel.sample.json"

MONITORING = {"monitoring_enabled": True, "grafana_admin_password": "grafana-admin-pass"}
HUBBLE = {"hubble_enabled": True, "hubble_ui_enabled": True}
LOKI = {"loki_enabled": True}
TRACING = {"tracing_enabled": True}
RUSTFS = {"rustfs_enabled": True, "rustfs_secret_key": "rustfs-secret-key"}
LOKI_S3 = {"loki_s3_access_key": "loki-access", "loki_s3_secret_key": "loki-secret-key"}
NETWORK_POLICIES = {"network_policies_enabled": True}
OIDC = {"oidc_issuer_url": "https://auth.example.com/realms/main",
        "oidc_jwks_uri": "https://auth.example.com/realms/main/protocol/openid-connect/certs"}
BACKUP_CREDENTIALS = {"backup_s3_access_key": "backup-access", "backup_s3_secret_key": "backup-secret"}
EXTERNAL_BACKUP = {"backup_s3_endpoint": "https://s3.eu-central-1.example.com", "backup_s3_bucket": "etcd",
                   "backup_s3_region": "eu-central-1", **BACKUP_CREDENTIALS}
INTERNAL_BACKUP = {"backup_s3_endpoint": "http://rustfs-svc.storage.svc.cluster.local:9000",
                   "backup_s3_bucket": "etcd-snapshots", **BACKUP_CREDENTIALS}
KEYCLOAK = {"keycloak_enabled": True, "keycloak_admin_password": "kc-admin-pass", "keycloak_db_password": "kc-db-pass"}

FULL = {**MONITORING, **HUBBLE, **LOKI, "loki_monitoring_enabled": True, **TRACING, **RUSTFS, **LOKI_S3,
        "rustfs_monitoring_enabled": True, **NETWORK_POLICIES, "network_policies_mode": "enforce",
        **INTERNAL_BACKUP, **OIDC}
WITHOUT_RUSTFS = {**MONITORING, **HUBBLE, **LOKI, "loki_monitoring_enabled": True, **TRACING, **NETWORK_POLICIES,
                  "network_policies_mode": "audit", **EXTERNAL_BACKUP, **OIDC}

# What each component owns in the output: path prefixes, or `/segment/` anywhere in the path.
COMPONENT_FILES = {
    "monitoring": ("kubernetes/apps/monitoring/kube-prometheus-stack/",),
    "hubble": ("kubernetes/apps/kube-system/hubble-ui/",),
    "loki": ("kubernetes/apps/monitoring/loki/", "kubernetes/apps/monitoring/alloy/"),
    "tracing": ("kubernetes/apps/monitoring/tempo/",),
    "rustfs": ("kubernetes/apps/storage/",),
    "network_policies": ("kubernetes/apps/cluster-policies/", "/network-policies/"),
    "talos_backup": ("kubernetes/apps/kube-system/talos-backup/",
                     "talos/patches/controller/machine-kubernetes-talos-api.yaml"),
    "oidc": ("kubernetes/apps/network/envoy-gateway/config/securitypolicy-jwt.yaml",),
}
COMPONENT_SETTINGS = {
    "monitoring": MONITORING,
    "hubble": HUBBLE,
    "loki": LOKI,
    "tracing": TRACING,
    "rustfs": RUSTFS,
    "network_policies": NETWORK_POLICIES,
    "talos_backup": EXTERNAL_BACKUP,
    "oidc": OIDC,
}
MONITORING_NAMESPACE = "kubernetes/apps/monitoring/"
CILIUM_HR = "kubernetes/apps/kube-system/cilium/app/helmrelease.yaml"
KPS_HR = "kubernetes/apps/monitoring/kube-prometheus-stack/app/helmrelease.yaml"
TEMPO_HR = "kubernetes/apps/monitoring/tempo/app/helmrelease.yaml"
RUSTFS_HR = "kubernetes/apps/storage/rustfs/app/helmrelease.yaml"
LOKI_HR = "kubernetes/apps/monitoring/loki/app/helmrelease.yaml"
ALLOY_HR = "kubernetes/apps/monitoring/alloy/app/helmrelease.yaml"
# Kinds the full render must have checked (each one has a schema; none may be skipped).
EXPECTED_KINDS = {
    "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "SecurityPolicy", "ServiceAccount", "CronJob",
    "Job", "PrometheusRule", "HelmRepository", "HTTPRoute", "ConfigMap", "Talos v1alpha1 patch",
}


def owned(path: str, component: str) -> bool:
    return any(path.startswith(marker) or (marker.startswith("/") and marker in f"/{path}")
               for marker in COMPONENT_FILES[component])


def files_of(files: Iterable[str], component: str) -> set[str]:
    return {path for path in files if owned(path, component)}


def cluster_yaml(project: Project, settings: dict[str, object]) -> str:
    """The sample cluster.yaml with `settings` appended (JSON scalars are valid YAML)."""
    sample = (project.root / "templates/samples/cluster.sample.yaml").read_text()
    return sample + "\n" + "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())


def initialized_copy(target: Path) -> Project:
    project = copy_project(target)
    result = project.inv("init")
    assert result.returncode == 0, result.stderr
    shutil.copy(project.root / SAMPLE_TUNNEL, project.root / "cloudflare-tunnel.json")
    return project


def load_all(data: bytes) -> list:
    """The non-empty YAML documents of a rendered file."""
    return [doc for doc in YAML(typ="safe", pure=True).load_all(data.decode()) if doc]


def documents(files: dict[str, bytes], path: str) -> list[dict]:
    return load_all(files[path])


def document(files: dict[str, bytes], path: str, kind: str, name: str | None = None) -> dict:
    matches = [doc for doc in documents(files, path)
               if doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name)]
    assert len(matches) == 1, f"{path}: {len(matches)} {kind} {name or ''}"
    return matches[0]


def outputs(files: dict[str, bytes]) -> dict[str, bytes]:
    """The generated files, without configure's own bookkeeping under .inv/."""
    return {path: data for path, data in files.items() if not path.startswith(".inv/")}


def values(files: dict[str, bytes], path: str) -> dict:
    return document(files, path, "HelmRelease")["spec"]["values"]


# -- end to end ---------------------------------------------------------------------------------


@dataclass
class EndToEnd:
    project: Project
    first: dict[str, bytes]
    report: ValidationReport
    second_stdout: str
    second: dict[str, bytes]
    removed_returncode: int
    removed_stderr: str
    removed: dict[str, bytes]


def run_end_to_end(target: Path, settings: dict[str, object]) -> EndToEnd:
    """configure with `settings`, validate, configure again, then remove the keys and configure."""
    project = initialized_copy(target)
    project.write("cluster.yaml", cluster_yaml(project, settings))
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    first = project.snapshot()
    report = validate_tree(project.root, executor=Executor(), schema_dir=SCHEMA_DIR / "crds",
                           talos_schema=SCHEMA_DIR / "talos/config.schema.v1.12.11.json",
                           talconfig_schema=SCHEMA_DIR / "talhelper/talconfig.schema.json")
    # --force: render, encrypt and validate again even though nothing changed.
    again = project.inv("configure", "--yes", "--force")
    assert again.returncode == 0, again.stdout + again.stderr
    second = project.snapshot()
    project.write("cluster.yaml", cluster_yaml(project, {}))
    removed = project.inv("configure", "--yes")
    return EndToEnd(project, first, report, again.stdout, second, removed.returncode, removed.stderr,
                    project.snapshot())


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> EndToEnd:
    return run_end_to_end(tmp_path_factory.mktemp("full") / "repo", FULL)


@pytest.fixture(scope="module")
def without_rustfs(tmp_path_factory) -> EndToEnd:
    return run_end_to_end(tmp_path_factory.mktemp("without-rustfs") / "repo", WITHOUT_RUSTFS)


@pytest.mark.parametrize("scenario", ["full", "without_rustfs"])
@pytest.mark.slow
def test_render_validates_and_is_stable(scenario, request):
    run: EndToEnd = request.getfixturevalue(scenario)
    assert run.report.ok, "\n".join(str(issue) for issue in run.report.errors)
    rustfs_only = {"Job", "HelmRepository"} if scenario == "without_rustfs" else set()
    missing = EXPECTED_KINDS - set(run.report.counts) - rustfs_only
    assert not missing, f"kinds not checked: {missing}"
    # Every policy document rendered was checked.
    rendered_policies = sum(
        1 for path, data in run.first.items() if "/network-policies/app/" in path and path.endswith(".yaml")
        and not path.endswith("kustomization.yaml") for doc in load_all(data))
    checked = run.report.counts["CiliumNetworkPolicy"] + run.report.counts["CiliumClusterwideNetworkPolicy"]
    assert checked >= rendered_policies
    assert "create 0, update 0, remove 0" in run.second_stdout
    assert outputs(run.second) == outputs(run.first)


@pytest.mark.parametrize("scenario", ["full", "without_rustfs"])
def test_removing_the_keys_removes_every_component_file(scenario, request):
    run: EndToEnd = request.getfixturevalue(scenario)
    assert run.removed_returncode == 0, run.removed_stderr
    for component in COMPONENT_FILES:
        if not (component == "rustfs" and scenario == "without_rustfs"):
            assert files_of(run.first, component), f"{component}: nothing rendered"
        assert not files_of(run.removed, component), component
    assert not [path for path in run.removed if path.startswith(MONITORING_NAMESPACE)]
    cilium = values(run.removed, CILIUM_HR)
    assert cilium["hubble"] == {"enabled": False} and "policyAuditMode" not in cilium


def test_component_secrets_are_encrypted(full):
    secrets = [path for path in full.first if path.endswith(".sops.yaml") and path != ".sops.yaml"
               and any(owned(path, component) for component in COMPONENT_FILES)]
    assert {"kubernetes/apps/kube-system/talos-backup/app/secret.sops.yaml",
            "kubernetes/apps/storage/rustfs/app/secret.sops.yaml",
            "kubernetes/apps/monitoring/loki/app/secret.sops.yaml",
            "kubernetes/apps/monitoring/kube-prometheus-stack/app/secret.sops.yaml"} <= set(secrets)
    for path in secrets:
        text = full.first[path].decode()
        assert "ENC[AES256_GCM" in text
        for plain in ("rustfs-secret-key", "loki-secret-key", "backup-secret", "grafana-admin-pass"):
            assert plain not in text, (path, plain)


# -- per component, rendered in-process ---------------------------------------------------------


class Renderer:
    """Renders the real templates for a cluster.yaml in memory (configure minus sops/validation)."""

    def __init__(self, project: Project):
        self.project = project

    def __call__(self, settings: dict[str, object]) -> dict[str, bytes]:
        self.project.write("cluster.yaml", cluster_yaml(self.project, settings))
        _, context = build_context(self.project.root, Executor())
        return render_templates(self.project.root / "templates/config", context)


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("render") / "repo"))


def assert_kustomizations_complete(files: dict[str, bytes]) -> None:
    """Every resource a rendered kustomization lists was rendered too (a disabled component must
    disappear from its namespace's list together with its files)."""
    for path in files:
        if PurePosixPath(path).name != "kustomization.yaml" or not path.startswith("kubernetes/"):
            continue
        folder = PurePosixPath(path).parent
        for doc in documents(files, path):
            for entry in doc.get("resources", []) + doc.get("components", []):
                resolved = _normalize((folder / entry).as_posix())
                assert resolved in files or any(name.startswith(resolved + "/") for name in files), (path, entry)


def _normalize(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def test_everything_off_renders_no_component_file(render):
    files = render({})
    for component in COMPONENT_FILES:
        assert not files_of(files, component), component
    assert not [path for path in files if path.startswith(MONITORING_NAMESPACE)]
    assert_kustomizations_complete(files)


@pytest.mark.parametrize("component", sorted(COMPONENT_SETTINGS))
def test_each_component_renders_only_its_files(render, component):
    files = render(COMPONENT_SETTINGS[component])
    for marker in COMPONENT_FILES[component]:
        assert any(owned(path, component) and (marker in f"/{path}" or path.startswith(marker)) for path in files), \
            (component, marker)
    for other in COMPONENT_FILES:
        if other != component:
            assert not files_of(files, other), (component, other)
    assert_kustomizations_complete(files)


def test_namespace_lists_follow_the_components(render):
    apps = documents(render({**MONITORING, **RUSTFS}), "kubernetes/apps/kustomization.yaml")[0]["resources"]
    assert "./monitoring" in apps and "./storage" in apps and "./cluster-policies" not in apps
    apps = documents(render(TRACING), "kubernetes/apps/kustomization.yaml")[0]["resources"]
    assert "./monitoring" in apps and "./storage" not in apps
    monitoring = documents(render(LOKI), "kubernetes/apps/monitoring/kustomization.yaml")[0]["resources"]
    assert monitoring == ["./namespace.yaml", "./loki/ks.yaml", "./alloy/ks.yaml"]


# -- network policies ---------------------------------------------------------------------------


def test_every_rendered_namespace_has_its_network_policies(render):
    files = render({**FULL, "unifi_host": "https://192.168.1.1", "unifi_api_key": "unifi-key"})
    namespaces = {}
    for path in files:
        parts = PurePosixPath(path).parts
        if len(parts) == 4 and parts[:2] == ("kubernetes", "apps") and parts[3] == "kustomization.yaml":
            doc = documents(files, path)[0]
            if parts[2] != "cluster-policies":
                namespaces[parts[2]] = doc
    core = {"cert-manager", "default", "flux-system", "kube-system", "network"}
    assert core | {"monitoring", "storage"} <= set(namespaces)
    for namespace, doc in namespaces.items():
        assert doc["namespace"] == namespace
        assert "./network-policies/ks.yaml" in doc["resources"], namespace
        ks = document(files, f"kubernetes/apps/{namespace}/network-policies/ks.yaml", "Kustomization")
        assert ks["spec"]["targetNamespace"] == namespace
        assert ks["spec"]["dependsOn"] == [{"name": "cluster-network-policies", "namespace": "flux-system"}]
        policies = [doc for path in files if path.startswith(f"kubernetes/apps/{namespace}/network-policies/app/")
                    and not path.endswith("kustomization.yaml") for doc in documents(files, path)]
        assert policies and all(doc["kind"] == "CiliumNetworkPolicy" for doc in policies), namespace
        # Each namespace's own policies put its pods into default-deny (only the cluster-wide
        # baseline opts out of it).
        assert all("enableDefaultDeny" not in doc["spec"] for doc in policies), namespace
    # The policies reach the unifi-dns controller and its UniFi host port.
    unifi = document(files, "kubernetes/apps/network/network-policies/app/dns.yaml", "CiliumNetworkPolicy", "unifi-dns")
    assert unifi["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"] == "443"


def test_cluster_wide_baseline_never_turns_on_default_deny(render):
    files = render({**MONITORING, **NETWORK_POLICIES})
    baseline = documents(files, "kubernetes/apps/cluster-policies/network-policies/app/baseline.yaml")
    assert {doc["metadata"]["name"] for doc in baseline} == {"allow-cluster-dns", "allow-prometheus-scrape"}
    for doc in baseline:
        assert doc["kind"] == "CiliumClusterwideNetworkPolicy"
        assert doc["spec"]["endpointSelector"] == {}
        assert doc["spec"]["enableDefaultDeny"] == {"ingress": False, "egress": False}
    dns = baseline[0]["spec"]["egress"][0]
    kube_dns = {"io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns"}
    assert dns["toEndpoints"] == [{"matchLabels": kube_dns}]
    # Without Prometheus there is nothing to allow scraping for.
    files = render(NETWORK_POLICIES)
    names = {doc["metadata"]["name"]
             for doc in documents(files, "kubernetes/apps/cluster-policies/network-policies/app/baseline.yaml")}
    assert names == {"allow-cluster-dns"}


def test_apiserver_egress_where_controllers_run(render):
    files = render({**FULL})
    for path, name in [("kubernetes/apps/kube-system/network-policies/app/system.yaml", "kube-system-apiserver"),
                       ("kubernetes/apps/network/network-policies/app/gateways.yaml", "network-apiserver"),
                       ("kubernetes/apps/monitoring/network-policies/app/apiserver.yaml", "monitoring-apiserver"),
                       ("kubernetes/apps/flux-system/network-policies/app/flux.yaml", "flux"),
                       ("kubernetes/apps/cert-manager/network-policies/app/cert-manager.yaml",
                        "cert-manager-apiserver")]:
        policy = document(files, path, "CiliumNetworkPolicy", name)
        assert {"toEntities": ["kube-apiserver"]} in policy["spec"]["egress"], path


@pytest.mark.parametrize("mode, audit", [("audit", True), ("enforce", False)])
def test_audit_mode_only_observes(render, mode, audit):
    files = render({**NETWORK_POLICIES, "network_policies_mode": mode})
    cilium = values(files, CILIUM_HR)
    # Audit: Cilium evaluates every policy but drops nothing (verdict AUDIT); enforce: drops.
    assert cilium.get("policyAuditMode", False) is audit
    # The policies are the same in both modes, so switching to enforce changes nothing else.
    other = render({**NETWORK_POLICIES, "network_policies_mode": "enforce" if audit else "audit"})
    policies = {path for path in files if "/network-policies/" in path or "cluster-policies" in path}
    assert policies and all(files[path] == other[path] for path in policies)


def test_gateway_backends_accept_their_gateway(render):
    files = render({**FULL, **NETWORK_POLICIES})
    internal = {"io.kubernetes.pod.namespace": "network", "gateway.envoyproxy.io/owning-gateway-name": "envoy-internal"}
    for path, name, port in [
        ("kubernetes/apps/monitoring/network-policies/app/kube-prometheus-stack.yaml", "grafana", "3000"),
        ("kubernetes/apps/storage/network-policies/app/rustfs.yaml", "rustfs", "9001"),
        ("kubernetes/apps/kube-system/network-policies/app/hubble.yaml", "hubble-ui", "8081"),
    ]:
        rules = document(files, path, "CiliumNetworkPolicy", name)["spec"]["ingress"]
        assert any(rule.get("fromEndpoints") == [{"matchLabels": internal}]
                   and rule["toPorts"][0]["ports"][0]["port"] == port for rule in rules), name


# -- observability --------------------------------------------------------------------------------


def test_loki_runs_simple_scalable_on_rustfs(render):
    files = render({**LOKI, **RUSTFS, **LOKI_S3})
    loki = document(files, LOKI_HR, "HelmRelease")
    assert loki["spec"]["values"]["deploymentMode"] == "SimpleScalable"
    assert loki["spec"]["values"]["loki"]["storage"]["type"] == "s3"
    assert loki["spec"]["values"]["loki"]["storage"]["s3"]["endpoint"] == "rustfs-svc.storage.svc.cluster.local:9000"
    assert loki["spec"]["values"]["singleBinary"]["replicas"] == 0
    assert {entry["targetPath"] for entry in loki["spec"]["valuesFrom"]} == {
        "loki.storage.s3.accessKeyId", "loki.storage.s3.secretAccessKey"}
    secret = document(files, "kubernetes/apps/monitoring/loki/app/secret.sops.yaml", "Secret")
    assert secret["stringData"] == {"access-key": "loki-access", "secret-key": "loki-secret-key"}
    ks = document(files, "kubernetes/apps/monitoring/loki/ks.yaml", "Kustomization")
    assert ks["spec"]["dependsOn"] == [{"name": "rustfs-setup", "namespace": "storage"}]
    job = document(files, "kubernetes/apps/storage/rustfs/setup/job.yaml", "Job")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "for bucket in loki-chunks loki-ruler loki-admin;" in script
    setup = document(files, "kubernetes/apps/storage/rustfs/ks.yaml", "Kustomization", "rustfs-setup")
    assert setup["spec"]["dependsOn"] == [{"name": "rustfs", "namespace": "storage"}]


def test_loki_on_rustfs_without_own_keys_uses_the_rustfs_administrator(render):
    files = render({**LOKI, **RUSTFS})
    secret = document(files, "kubernetes/apps/monitoring/loki/app/secret.sops.yaml", "Secret")
    assert secret["stringData"] == {"access-key": "rustfsadmin", "secret-key": "rustfs-secret-key"}


def test_loki_runs_single_binary_without_rustfs(render):
    files = render(LOKI)
    loki = document(files, LOKI_HR, "HelmRelease")
    # The chart calls loki_deployment_mode's SingleBinary "Monolithic".
    assert loki["spec"]["values"]["deploymentMode"] == "Monolithic"
    assert loki["spec"]["values"]["loki"]["storage"]["type"] == "filesystem"
    assert loki["spec"]["values"]["singleBinary"]["replicas"] == 1
    assert "valuesFrom" not in loki["spec"]
    assert "kubernetes/apps/monitoring/loki/app/secret.sops.yaml" not in files
    assert "dependsOn" not in document(files, "kubernetes/apps/monitoring/loki/ks.yaml", "Kustomization")["spec"]
    assert not [path for path in files if path.startswith("kubernetes/apps/storage/")]


def test_component_monitoring_needs_both_flags(render):
    both = {**MONITORING, **LOKI, **RUSTFS, "loki_monitoring_enabled": True, "rustfs_monitoring_enabled": True}
    files = render(both)
    assert "kubernetes/apps/storage/rustfs/app/dashboard.yaml" in files
    assert "kubernetes/apps/monitoring/loki/app/dashboard.yaml" in files
    dashboard = document(files, "kubernetes/apps/storage/rustfs/app/dashboard.yaml", "ConfigMap")
    assert dashboard["metadata"]["labels"] == {"grafana_dashboard": "1"}
    json.loads(dashboard["data"]["rustfs.json"])
    json.loads(document(files, "kubernetes/apps/monitoring/loki/app/dashboard.yaml", "ConfigMap")
               ["data"]["logs-pipeline.json"])
    rustfs = values(files, RUSTFS_HR)
    assert rustfs["config"]["rustfs"]["obs_endpoint"]["metrics"]["endpoint"].startswith("http://prometheus-operated.")
    loki = values(files, LOKI_HR)
    assert loki["monitoring"]["serviceMonitor"] == {"enabled": True}
    assert values(files, ALLOY_HR)["serviceMonitor"] == {"enabled": True}
    # The component on, its monitoring flag off: no dashboard, no metrics push, no monitors.
    files = render({**MONITORING, **LOKI, **RUSTFS})
    assert "kubernetes/apps/storage/rustfs/app/dashboard.yaml" not in files
    assert "kubernetes/apps/monitoring/loki/app/dashboard.yaml" not in files
    assert "obs_endpoint" not in values(files, RUSTFS_HR)["config"]["rustfs"]
    assert "monitoring" not in values(files, LOKI_HR)
    assert "serviceMonitor" not in values(files, ALLOY_HR)


def test_hubble_service_monitors_only_with_monitoring(render):
    hubble = values(render(HUBBLE), CILIUM_HR)["hubble"]
    assert hubble["enabled"] is True and hubble["relay"]["enabled"] is True and hubble["ui"]["enabled"] is True
    assert hubble["tls"]["auto"]["method"] == "cronJob"
    assert "metrics" not in hubble and "prometheus" not in hubble["relay"]
    hubble = values(render({**HUBBLE, **MONITORING}), CILIUM_HR)["hubble"]
    assert hubble["metrics"]["serviceMonitor"] == {"enabled": True}
    assert hubble["relay"]["prometheus"]["serviceMonitor"] == {"enabled": True}
    files = render({"hubble_enabled": True})
    assert values(files, CILIUM_HR)["hubble"]["ui"]["enabled"] is False
    assert not files_of(files, "hubble")


def test_grafana_sso_only_when_derived_flag_is_on(render):
    files = render({**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "gf-client"})
    grafana = values(files, KPS_HR)["grafana"]
    oauth = grafana["grafana.ini"]["auth.generic_oauth"]
    assert oauth["enabled"] is True and oauth["client_id"] == "grafana"
    assert oauth["token_url"] == "https://auth.example.com/realms/matherlynet/protocol/openid-connect/token"
    assert grafana["envValueFrom"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]["secretKeyRef"]["key"] == "oidc-client-secret"
    secret = document(files, "kubernetes/apps/monitoring/kube-prometheus-stack/app/secret.sops.yaml", "Secret")
    assert secret["stringData"]["oidc-client-secret"] == "gf-client"
    # Keycloak on but no Grafana client: plain login only.
    files = render({**MONITORING, **KEYCLOAK})
    grafana = values(files, KPS_HR)["grafana"]
    assert "auth.generic_oauth" not in grafana["grafana.ini"] and "envValueFrom" not in grafana
    assert "oidc-client-secret" not in document(
        files, "kubernetes/apps/monitoring/kube-prometheus-stack/app/secret.sops.yaml", "Secret")["stringData"]


def test_grafana_datasources_follow_loki_and_tempo(render):
    grafana = values(render({**MONITORING, **LOKI, **TRACING}),
                     KPS_HR)["grafana"]
    assert [source["uid"] for source in grafana["additionalDataSources"]] == ["loki", "tempo"]
    grafana = values(render(MONITORING), KPS_HR)["grafana"]
    assert "additionalDataSources" not in grafana


def test_tempo_retention_in_hours(render):
    tempo = values(render({**TRACING, "trace_retention": "7d"}), TEMPO_HR)
    assert tempo["tempo"]["retention"] == "168h"
    tempo = values(render({**TRACING, "trace_retention": "36h"}), TEMPO_HR)
    assert tempo["tempo"]["retention"] == "36h" and "metricsGenerator" not in tempo["tempo"]


def test_node_alert_thresholds(render):
    files = render({**MONITORING, "node_cpu_threshold": 75, "node_memory_threshold": 80})
    rule = document(files, "kubernetes/apps/monitoring/kube-prometheus-stack/app/prometheusrule.yaml", "PrometheusRule")
    exprs = [r["expr"] for r in rule["spec"]["groups"][0]["rules"]]
    assert exprs[0].rstrip().endswith("> 75") and exprs[1].rstrip().endswith("> 80")
    assert "kubernetes/apps/monitoring/kube-prometheus-stack/app/prometheusrule.yaml" not in render(
        {**MONITORING, "monitoring_alerts_enabled": False})


# -- Talos backup, RustFS, JWT --------------------------------------------------------------------


def test_talos_backup_cronjob_and_machine_config(render):
    files = render(EXTERNAL_BACKUP)
    cronjob = document(files, "kubernetes/apps/kube-system/talos-backup/app/cronjob.yaml", "CronJob")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {item["name"]: item.get("value") for item in pod["containers"][0]["env"]}
    age_key = (render.project.root / "age.key").read_text()
    public = next(line.split(":", 1)[1].strip() for line in age_key.splitlines() if line.startswith("# public key:"))
    # Without backup_age_public_key the snapshots are encrypted to the repository's own age key.
    assert env["AGE_X25519_PUBLIC_KEY"] == public
    assert env["CUSTOM_S3_ENDPOINT"] == "https://s3.eu-central-1.example.com"
    assert env["BUCKET"] == "etcd" and env["AWS_REGION"] == "eu-central-1"
    assert {"name": "talos-secrets", "secret": {"secretName": "talos-backup-secrets"}} in pod["volumes"]
    account = document(files, "kubernetes/apps/kube-system/talos-backup/app/serviceaccount.yaml", "ServiceAccount")
    assert account["apiVersion"] == "talos.dev/v1alpha1" and account["spec"]["roles"] == ["os:etcd:backup"]
    patch = documents(files, "talos/patches/controller/machine-kubernetes-talos-api.yaml")[0]
    access = patch["machine"]["features"]["kubernetesTalosAPIAccess"]
    assert access == {"enabled": True, "allowedRoles": ["os:etcd:backup"],
                      "allowedKubernetesNamespaces": ["kube-system"]}
    ks = document(files, "kubernetes/apps/kube-system/talos-backup/ks.yaml", "Kustomization")
    assert "dependsOn" not in ks["spec"]


def test_talos_backup_explicit_age_key_and_internal_bucket(render):
    key = "age1" + "q" * 58
    files = render({**RUSTFS, **INTERNAL_BACKUP, **NETWORK_POLICIES, "backup_age_public_key": key})
    pod = document(files, "kubernetes/apps/kube-system/talos-backup/app/cronjob.yaml",
                   "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {"name": "AGE_X25519_PUBLIC_KEY", "value": key} in pod["containers"][0]["env"]
    ks = document(files, "kubernetes/apps/kube-system/talos-backup/ks.yaml", "Kustomization")
    assert ks["spec"]["dependsOn"] == [{"name": "rustfs-setup", "namespace": "storage"}]
    script = document(files, "kubernetes/apps/storage/rustfs/setup/job.yaml", "Job")[
        "spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "for bucket in etcd-snapshots;" in script
    egress = document(files, "kubernetes/apps/kube-system/network-policies/app/talos-backup.yaml",
                      "CiliumNetworkPolicy")["spec"]["egress"]
    assert egress[1]["toEndpoints"][0]["matchLabels"]["io.kubernetes.pod.namespace"] == "storage"


def test_rustfs_topology_and_console(render):
    files = render(RUSTFS)
    rustfs = values(files, RUSTFS_HR)
    assert rustfs["mode"]["standalone"]["enabled"] is True and rustfs["mode"]["distributed"]["enabled"] is False
    assert rustfs["secret"] == {"existingSecret": "rustfs-secret"} and rustfs["ingress"] == {"enabled": False}
    assert rustfs["storageclass"]["name"] is None
    route = document(files, "kubernetes/apps/storage/rustfs/app/httproute.yaml", "HTTPRoute")
    assert route["spec"]["hostnames"] == ["rustfs.example.com"]
    assert route["spec"]["parentRefs"][0]["name"] == "envoy-internal"
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "rustfs-svc", "port": 9001}]
    # No component needs a bucket: no setup job.
    assert "kubernetes/apps/storage/rustfs/setup/job.yaml" not in files
    files = render({**RUSTFS, "rustfs_replicas": 4, "rustfs_subdomain": "s3", "storage_class": "ceph"})
    rustfs = values(files, RUSTFS_HR)
    assert rustfs["mode"]["distributed"]["enabled"] is True and rustfs["replicaCount"] == 4
    assert rustfs["storageclass"]["name"] == "ceph"
    assert document(files, "kubernetes/apps/storage/rustfs/app/httproute.yaml",
                    "HTTPRoute")["spec"]["hostnames"] == ["s3.example.com"]


def test_jwt_security_policy_targets_labelled_routes(render):
    files = render(OIDC)
    policy = document(files, "kubernetes/apps/network/envoy-gateway/config/securitypolicy-jwt.yaml", "SecurityPolicy")
    assert policy["spec"]["targetSelectors"] == [{
        "group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
        "matchLabels": {"security": "jwt-protected"}, "namespaces": {"from": "All"}}]
    provider = policy["spec"]["jwt"]["providers"][0]
    assert provider["issuer"] == OIDC["oidc_issuer_url"] and provider["remoteJWKS"]["uri"] == OIDC["oidc_jwks_uri"]
    listed = documents(files, "kubernetes/apps/network/envoy-gateway/config/kustomization.yaml")[0]["resources"]
    assert "./securitypolicy-jwt.yaml" in listed
    # With Keycloak, the issuer defaults to its realm.
    files = render(KEYCLOAK)
    provider = document(files, "kubernetes/apps/network/envoy-gateway/config/securitypolicy-jwt.yaml",
                        "SecurityPolicy")["spec"]["jwt"]["providers"][0]
    assert provider["name"] == "keycloak" and provider["issuer"] == "https://auth.example.com/realms/matherlynet"
