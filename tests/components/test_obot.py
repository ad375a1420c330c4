"""Obot and its MCP namespace (issue 17, part B).

- end to end with `inv configure --yes`: Obot alone (with CloudNativePG) and Obot with Keycloak
  sign-in, backups, audit logs, monitoring, tracing and enforced network policies render a tree the
  validator accepts; switched off, every Obot and MCP file is pruned; no credential appears outside
  an encrypted *.sops.yaml file;
- rendered in-process (fast): the MCP namespace's quota and limits follow the keys, the LiteLLM
  gateway follows obot_litellm_enabled, the workspace, SSO and metrics wiring;
- the configuration rules Obot adds.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from cluster_template.config.model import ClusterConfig
from cluster_template.config.seed_keys import unsupported_seed_key
from cluster_template.derive.components import derive_obot
from tests.components.test_data_layer import assert_validated, configure, end_to_end, validate
from tests.components.test_platform import (
    KEYCLOAK,
    MONITORING,
    NETWORK_POLICIES,
    RUSTFS,
    TRACING,
    Renderer,
    assert_kustomizations_complete,
    document,
    documents,
    initialized_copy,
    outputs,
    values,
)
from tests.config.test_components import CORE, LITELLM, rule_issues
from tests.conftest import REPO

CNPG = {"cnpg_enabled": True}
OBOT = {**CNPG, "obot_enabled": True, "obot_db_password": "obot-db-pass_w0rd.x+=", "obot_bootstrap_token": "obot-bootstrap-token",
        "obot_encryption_key": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456="}
OBOT_SSO = {**KEYCLOAK, "obot_keycloak_enabled": True, "obot_keycloak_client_secret": "obot-kc-client-secret",
            "obot_keycloak_allowed_groups": "obot-users", "obot_keycloak_allowed_roles": "obot-user"}
OBOT_BACKUP = {**RUSTFS, "cnpg_barman_plugin_enabled": True, "obot_s3_access_key": "obot-backup-access",
               "obot_s3_secret_key": "obot-backup-secret"}
OBOT_AUDIT = {**RUSTFS, "obot_audit_s3_access_key": "obot-audit-access", "obot_audit_s3_secret_key": "obot-audit-secret"}
ALL_ON = {**OBOT, **OBOT_SSO, **OBOT_BACKUP, **OBOT_AUDIT, "cnpg_pgvector_enabled": True, **MONITORING, **TRACING,
          "obot_monitoring_enabled": True, "obot_tracing_enabled": True, **NETWORK_POLICIES,
          "network_policies_mode": "enforce", "obot_admin_emails": "admin@example.com"}
# Every credential of ALL_ON that belongs to Obot (the others are the platform tests' business).
PLAINTEXTS = ("obot-db-pass_w0rd.x+=", "obot-bootstrap-token",
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456=", "obot-kc-client-secret", "obot-backup-secret",
              "obot-audit-secret", "rustfs-secret-key", "kc-admin-pass")
INPUTS = {"cluster.yaml", "nodes.yaml"}

OBOT_DIR = "kubernetes/apps/ai-system/obot/"
MCP_DIR = "kubernetes/apps/obot-mcp/"
HR = OBOT_DIR + "app/helmrelease.yaml"
CONFIG_SECRET = OBOT_DIR + "app/secret.sops.yaml"
SSO_SECRET = OBOT_DIR + "sso/secret.sops.yaml"
SSO_JOB = OBOT_DIR + "sso/job.yaml"
OBOT_POLICY = OBOT_DIR + "app/network-policy.yaml"
QUOTA = MCP_DIR + "policies/app/resourcequota.yaml"
LIMITS = MCP_DIR + "policies/app/limitrange.yaml"
MCP_POLICY = MCP_DIR + "network-policies/app/mcp-servers.yaml"
LITELLM_TEMPLATES = REPO / "templates/config/kubernetes/apps/ai-system/litellm/ks.yaml.j2"


def env(files: dict[str, bytes]) -> dict[str, str]:
    return values(files, HR)["extraEnv"]


def secret_data(files: dict[str, bytes], path: str) -> dict[str, str]:
    return document(files, path, "Secret")["stringData"]


def obot_files(files) -> list[str]:
    return [path for path in files if path.startswith((OBOT_DIR, MCP_DIR, "kubernetes/apps/ai-system/"))]


# -- end to end ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_on(tmp_path_factory):
    return end_to_end(initialized_copy(tmp_path_factory.mktemp("obot") / "repo"), ALL_ON)


def test_everything_on_renders_and_validates(all_on):
    assert_validated(all_on["report"], all_on["stdout"], (
        "ResourceQuota", "LimitRange", "ServiceMonitor", "Job", "HTTPRoute", "Cluster", "Database", "ObjectStore",
        "ScheduledBackup", "CiliumNetworkPolicy"))
    files = all_on["files"]
    assert document(files, HR, "HelmRelease")["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "obot"}
    assert document(files, OBOT_DIR + "app/ocirepository.yaml", "OCIRepository")["spec"]["ref"] == {"tag": "0.2.30"}
    assert values(files, HR)["image"]["tag"] == "v0.2.30"
    # Obot waits for its database; the setup job for Obot.
    kustomizations = {doc["metadata"]["name"]: doc["spec"] for doc in documents(files, OBOT_DIR + "ks.yaml")}
    assert {"name": "obot-postgres", "namespace": "ai-system"} in kustomizations["obot"]["dependsOn"]
    assert kustomizations["obot-sso"]["dependsOn"] == [{"name": "obot", "namespace": "ai-system"}]
    apps = documents(files, "kubernetes/apps/kustomization.yaml")[0]["resources"]
    assert "./ai-system" in apps and "./obot-mcp" in apps
    # The audit-log bucket is created with the backup bucket.
    script = document(files, "kubernetes/apps/storage/rustfs/setup/job.yaml", "Job")["spec"]["template"]["spec"]
    assert "obot-postgres-backups obot-audit-logs" in script["containers"][0]["command"][-1]


def test_credentials_only_encrypted_in_sops_files(all_on):
    files = outputs(all_on["files"])
    for sealed in (CONFIG_SECRET, SSO_SECRET, OBOT_DIR + "app/metrics.sops.yaml", OBOT_DIR + "db/secret.sops.yaml",
                   OBOT_DIR + "db/backup.sops.yaml"):
        assert "ENC[AES256_GCM" in files[sealed].decode(), sealed
    token = derive_obot(ClusterConfig.model_validate({**CORE, **ALL_ON}), {})["obot_metrics_token"]
    for path, data in files.items():
        text = data.decode(errors="replace")
        for plain in (*PLAINTEXTS, token) if path not in INPUTS else ():
            assert plain not in text, (path, plain)
    # The chart copies its `config` values into a Secret of its own: nothing secret may be there.
    assert set(values(files, HR)["config"]) == {"existingSecret", "OBOT_SERVER_ENCRYPTION_PROVIDER",
                                                "OBOT_SERVER_MCPRUNTIME_BACKEND"}


def test_switched_off_every_obot_file_is_pruned(all_on):
    assert all_on["removed"].returncode == 0, all_on["removed"].stderr
    left = outputs(all_on["after_removal"])
    assert obot_files(left) == []
    apps = left["kubernetes/apps/kustomization.yaml"].decode()
    assert "./ai-system" not in apps and "./obot-mcp" not in apps
    assert "obot-audit-logs" not in left.get("kubernetes/apps/storage/rustfs/setup/job.yaml", b"").decode()


S3_WORKSPACE = {**RUSTFS, "obot_workspace_provider": "s3", "obot_replicas": 2, "obot_workspace_s3_access_key": "ws-access",
                "obot_workspace_s3_secret_key": "ws-secret-key", "obot_audit_s3_access_key": "ws-access",
                "obot_audit_s3_secret_key": "ws-secret-key", **NETWORK_POLICIES}


@pytest.mark.parametrize("settings", [OBOT, {**OBOT, **S3_WORKSPACE}], ids=["alone", "s3-workspace"])
def test_obot_alone_validates(tmp_path, settings):
    """Obot needs nothing of LiteLLM or Langfuse: CloudNativePG is its only prerequisite."""
    project = initialized_copy(tmp_path / "repo")
    result = configure(project, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    report = validate(project)
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    files = project.snapshot()
    assert OBOT_DIR + "sso/job.yaml" not in files and OBOT_DIR + "app/servicemonitor.yaml" not in files
    assert documents(files, "kubernetes/apps/ai-system/kustomization.yaml")[0]["resources"] == [
        "./namespace.yaml", "./obot/ks.yaml"]
    assert "ws-secret-key" not in files[HR].decode()


@pytest.mark.skipif(not LITELLM_TEMPLATES.exists(), reason="LiteLLM is rendered by issue 17 part A (not merged yet)")
def test_with_the_litellm_gateway_validates(tmp_path):
    project = initialized_copy(tmp_path / "repo")
    result = configure(project, {**OBOT, **LITELLM, **NETWORK_POLICIES})
    assert result.returncode == 0, result.stdout + result.stderr
    report = validate(project)
    assert report.ok, "\n".join(str(issue) for issue in report.errors)


# -- rendered in-process ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("obot-render") / "repo"))


def test_off_renders_nothing_of_obot(render):
    files = render({})
    assert obot_files(files) == []
    assert_kustomizations_complete(files)
    assert_kustomizations_complete(render(OBOT))


MCP_KEYS = {"obot_mcp_cpu_requests_quota": "3", "obot_mcp_cpu_limits_quota": "6500m",
            "obot_mcp_memory_requests_quota": "6Gi", "obot_mcp_memory_limits_quota": "12Gi", "obot_mcp_max_pods": 7,
            "obot_mcp_default_cpu_request": "50m", "obot_mcp_default_cpu_limit": "250m",
            "obot_mcp_default_memory_request": "128Mi", "obot_mcp_default_memory_limit": "384Mi",
            "obot_mcp_max_cpu": "750m", "obot_mcp_max_memory": "768Mi"}


@pytest.mark.parametrize("settings", [{}, MCP_KEYS], ids=["defaults", "custom"])
def test_mcp_namespace_quota_and_limits_follow_the_config(render, settings):
    files = render({**OBOT, **settings})
    config = ClusterConfig.model_validate({**CORE, **OBOT, **settings})
    quota = document(files, QUOTA, "ResourceQuota")["spec"]["hard"]
    assert quota == {"requests.cpu": config.obot_mcp_cpu_requests_quota,
                     "limits.cpu": config.obot_mcp_cpu_limits_quota,
                     "requests.memory": config.obot_mcp_memory_requests_quota,
                     "limits.memory": config.obot_mcp_memory_limits_quota,
                     "pods": str(config.obot_mcp_max_pods)}
    [limits] = document(files, LIMITS, "LimitRange")["spec"]["limits"]
    expected_defaults = {
        "defaultRequest": {"cpu": config.obot_mcp_default_cpu_request, "memory": config.obot_mcp_default_memory_request},
        "default": {"cpu": config.obot_mcp_default_cpu_limit, "memory": config.obot_mcp_default_memory_limit},
    }
    assert limits == {"type": "Container", **expected_defaults,
                      "max": {"cpu": config.obot_mcp_max_cpu, "memory": config.obot_mcp_max_memory}}
    # Obot gives its MCP containers the same defaults explicitly.
    resources = json.loads(env(files)["OBOT_SERVER_MCPK8S_SETTINGS_RESOURCES"])
    assert resources == {"requests": expected_defaults["defaultRequest"], "limits": expected_defaults["default"]}
    # Both objects land in the MCP namespace (its Flux Kustomization targets it).
    policies = document(files, MCP_DIR + "policies/ks.yaml", "Kustomization")["spec"]
    assert policies["targetNamespace"] == "obot-mcp"
    assert policies["path"] == "./" + MCP_DIR + "policies/app"


def test_mcp_namespace_name_follows_the_config(render):
    files = render({**OBOT, **NETWORK_POLICIES, "obot_mcp_namespace": "mcp-servers"})
    assert document(files, MCP_DIR + "namespace.yaml", "Namespace")["metadata"]["name"] == "mcp-servers"
    assert documents(files, MCP_DIR + "kustomization.yaml")[0]["namespace"] == "mcp-servers"
    for path in (MCP_DIR + "policies/ks.yaml", MCP_DIR + "network-policies/ks.yaml"):
        assert document(files, path, "Kustomization")["spec"]["targetNamespace"] == "mcp-servers"
    assert values(files, HR)["mcpNamespace"] == {"create": False, "name": "mcp-servers"}
    assert env(files)["OBOT_SERVER_MCPNAMESPACE"] == "mcp-servers"
    obot = document(files, OBOT_POLICY, "CiliumNetworkPolicy", "obot")["spec"]
    assert {"matchLabels": {"io.kubernetes.pod.namespace": "mcp-servers"}} in obot["ingress"][0]["fromEndpoints"]
    assert {"toEndpoints": [{"matchLabels": {"io.kubernetes.pod.namespace": "mcp-servers"}}]} in obot["egress"]


def test_mcp_pods_baseline_enforced_restricted_audited(render):
    labels = document(render(OBOT), MCP_DIR + "namespace.yaml", "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


def test_mcp_servers_reach_obot_and_the_internet_only(render):
    files = render({**OBOT, **NETWORK_POLICIES})
    [policy] = documents(files, MCP_POLICY)
    spec = policy["spec"]
    assert spec["endpointSelector"] == {}
    obot = {"matchLabels": {"io.kubernetes.pod.namespace": "ai-system", "app.kubernetes.io/name": "obot",
                            "app.kubernetes.io/instance": "obot"}}
    assert spec["ingress"] == [{"fromEndpoints": [obot]}]
    assert spec["egress"][0]["toEndpoints"] == [obot]
    [v4, v6] = spec["egress"][1]["toCIDRSet"]
    assert v4["cidr"] == "0.0.0.0/0" and v6["cidr"] == "::/0"
    for private in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "192.168.1.0/24",
                    "10.42.0.0/16", "10.43.0.0/16"):
        assert private in v4["except"], private
    assert len(spec["egress"]) == 2
    assert documents(files, MCP_DIR + "kustomization.yaml")[0]["resources"][-1] == "./network-policies/ks.yaml"
    # Without network policies the folder is not rendered at all.
    assert not [path for path in render(OBOT) if "/obot-mcp/network-policies/" in path]


@pytest.mark.parametrize("flag, expected", [(None, True), (True, True), (False, False)])
def test_litellm_gateway_follows_obot_litellm_enabled(render, flag, expected):
    settings = {**OBOT, **LITELLM, **NETWORK_POLICIES}
    if flag is not None:
        settings["obot_litellm_enabled"] = flag
    files = render(settings)
    assert (env(files).get("OPENAI_BASE_URL") == "http://litellm.ai-system.svc.cluster.local:4000/v1") is expected
    assert ("OPENAI_BASE_URL" in env(files)) is expected
    egress = document(files, OBOT_POLICY, "CiliumNetworkPolicy", "obot")["spec"]["egress"]
    to_litellm = [rule for rule in egress if any(
        selector["matchLabels"].get("app.kubernetes.io/name") == "litellm" for selector in rule.get("toEndpoints", []))]
    assert bool(to_litellm) is expected


def test_without_litellm_no_gateway(render):
    assert "OPENAI_BASE_URL" not in env(render(OBOT))


def test_keycloak_sign_in_is_registered_by_the_setup_job(render):
    files = render({**OBOT, **OBOT_SSO, **NETWORK_POLICIES})
    provider = json.loads(secret_data(files, SSO_SECRET)["provider.json"])
    assert provider == {
        "OBOT_KEYCLOAK_AUTH_PROVIDER_URL": "https://auth.example.com",
        "OBOT_KEYCLOAK_AUTH_PROVIDER_REALM": ClusterConfig.model_validate({**CORE, **OBOT}).keycloak_realm,
        "OBOT_KEYCLOAK_AUTH_PROVIDER_CLIENT_ID": "obot",
        "OBOT_KEYCLOAK_AUTH_PROVIDER_CLIENT_SECRET": "obot-kc-client-secret",
        "OBOT_AUTH_PROVIDER_EMAIL_DOMAINS": "*",
        "OBOT_KEYCLOAK_AUTH_PROVIDER_ALLOWED_GROUPS": "obot-users",
        "OBOT_KEYCLOAK_AUTH_PROVIDER_ALLOWED_ROLES": "obot-user",
    }
    assert secret_data(files, SSO_SECRET)["OBOT_BOOTSTRAP_TOKEN"] == "obot-bootstrap-token"
    job = document(files, SSO_JOB, "Job")["spec"]["template"]
    script = job["spec"]["containers"][0]["command"][-1]
    assert "/api/auth-providers/keycloak-auth-provider/configure" in script
    assert "obot-bootstrap-token" not in script
    # The job's pod names the settings it sends (all but the secret): a change re-creates the job.
    shown = json.loads(job["metadata"]["annotations"]["obot-keycloak-setup/settings"])
    assert shown == {key: value for key, value in provider.items() if key != "OBOT_KEYCLOAK_AUTH_PROVIDER_CLIENT_SECRET"}
    # Obot admits the job's pod.
    ingress = document(files, OBOT_POLICY, "CiliumNetworkPolicy", "obot")["spec"]["ingress"][0]["fromEndpoints"]
    assert {"matchLabels": {"io.kubernetes.pod.namespace": "ai-system",
                            "app.kubernetes.io/name": job["metadata"]["labels"]["app.kubernetes.io/name"]}} in ingress
    # Without Keycloak there is nothing to register (and the key of an unset restriction is empty).
    files = render({**OBOT, **KEYCLOAK})
    assert not [path for path in files if path.startswith(OBOT_DIR + "sso/")]
    files = render({**OBOT, **OBOT_SSO, "obot_keycloak_allowed_groups": None})
    assert json.loads(secret_data(files, SSO_SECRET)["provider.json"])["OBOT_KEYCLOAK_AUTH_PROVIDER_ALLOWED_GROUPS"] == ""


def test_database_is_the_shared_macro_with_pgvector(render):
    files = render({**OBOT, "cnpg_pgvector_enabled": True, "obot_postgresql_replicas": 2})
    cluster = document(files, OBOT_DIR + "db/cluster.yaml", "Cluster", "obot-postgres")["spec"]
    assert cluster["instances"] == 2 and cluster["bootstrap"]["initdb"]["database"] == "obot"
    assert document(files, OBOT_DIR + "db/cluster.yaml", "Database")["spec"]["extensions"] == [
        {"name": "vector", "ensure": "present"}]
    dsn = urlsplit(secret_data(files, CONFIG_SECRET)["OBOT_SERVER_DSN"])
    # postgres:// (not postgresql://): only then does Obot give its auth provider the database.
    assert dsn.scheme == "postgres" and dsn.hostname == "obot-postgres-rw.ai-system.svc.cluster.local"
    assert dsn.password == "obot-db-pass_w0rd.x+=" and dsn.path == "/obot" and dsn.query == "sslmode=require"


@pytest.mark.parametrize("provider", ["directory", "s3"])
def test_workspace_provider(render, provider):
    settings = {**OBOT, **RUSTFS, "obot_workspace_provider": provider, "storage_class": "fast"}
    if provider == "s3":
        settings.update(obot_workspace_s3_access_key="ws-access", obot_workspace_s3_secret_key="ws-secret",
                        obot_replicas=3)
    files = render(settings)
    release = values(files, HR)
    if provider == "s3":
        assert release["persistence"] == {"enabled": False}
        assert release["updateStrategy"] == "RollingUpdate" and release["replicaCount"] == 3
        assert env(files)["OBOT_WORKSPACE_PROVIDER_TYPE"] == "s3"
        assert env(files)["WORKSPACE_PROVIDER_S3_BUCKET"] == "obot-workspaces"
        sealed = secret_data(files, CONFIG_SECRET)
        assert (sealed["AWS_ACCESS_KEY_ID"], sealed["AWS_SECRET_ACCESS_KEY"]) == ("ws-access", "ws-secret")
    else:
        assert release["persistence"] == {"enabled": True, "size": "20Gi", "storageClass": "fast"}
        assert release["updateStrategy"] == "Recreate"
        assert "OBOT_WORKSPACE_PROVIDER_TYPE" not in env(files)
        assert "AWS_ACCESS_KEY_ID" not in secret_data(files, CONFIG_SECRET)


SETUP_JOB = "kubernetes/apps/storage/rustfs/setup/job.yaml"
WORKSPACE_KEYS = {"obot_workspace_s3_access_key": "ws-access", "obot_workspace_s3_secret_key": "ws-secret"}


def bucket_loop(files: dict[str, bytes]) -> str:
    """The `for bucket in ...;` line of the rustfs-setup job's script."""
    script = document(files, SETUP_JOB, "Job")["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    return next(line.strip() for line in script.splitlines() if line.strip().startswith("for bucket in"))


def obot_depends_on(files: dict[str, bytes]) -> list[dict[str, str]]:
    return next(doc for doc in documents(files, OBOT_DIR + "ks.yaml") if doc["metadata"]["name"] == "obot")[
        "spec"]["dependsOn"]


@pytest.mark.parametrize("endpoint", [None, "http://rustfs-svc.storage.svc:9000"])
def test_s3_workspace_on_rustfs_gets_its_bucket(render, endpoint):
    settings = {**OBOT, **RUSTFS, **WORKSPACE_KEYS, "obot_workspace_provider": "s3", "obot_s3_bucket": "obot-ws"}
    files = render({**settings, **({"obot_s3_endpoint": endpoint} if endpoint else {})})
    assert bucket_loop(files) == "for bucket in obot-ws; do"
    assert env(files)["WORKSPACE_PROVIDER_S3_BUCKET"] == "obot-ws"
    # Obot starts only once the bucket exists.
    assert {"name": "rustfs-setup", "namespace": "storage"} in obot_depends_on(files)


def test_workspace_elsewhere_creates_no_bucket(render):
    directory = render({**OBOT, **RUSTFS})
    assert SETUP_JOB not in directory
    assert obot_depends_on(directory) == [{"name": "obot-postgres", "namespace": "ai-system"}]
    # One key pair serves both stores (see test_workspace_and_audit_logs_share_one_key_pair).
    external = render({**OBOT, **OBOT_AUDIT, "obot_workspace_provider": "s3", "obot_s3_endpoint": "https://s3.example.com",
                       "obot_workspace_s3_access_key": OBOT_AUDIT["obot_audit_s3_access_key"],
                       "obot_workspace_s3_secret_key": OBOT_AUDIT["obot_audit_s3_secret_key"]})
    # RustFS still holds the audit logs, not the workspace on the other S3 service.
    assert bucket_loop(external) == "for bucket in obot-audit-logs; do"


@pytest.mark.parametrize("bucket", ["ws; rm -rf /", "Obot", "a"])
def test_workspace_bucket_must_be_an_s3_name(bucket):
    # The name reaches the setup job's shell command line.
    with pytest.raises(ValidationError, match="obot_s3_bucket"):
        ClusterConfig.model_validate({**CORE, **OBOT, "obot_s3_bucket": bucket})


def test_workspace_keys_are_refused_with_the_directory_workspace():
    issues = rule_issues({**OBOT, **WORKSPACE_KEYS})
    assert [key for key, _ in issues] == list(WORKSPACE_KEYS)
    assert all("obot_workspace_provider" in message for _, message in issues)


def test_audit_logs_go_to_rustfs(render):
    files = render({**OBOT, **OBOT_AUDIT, **NETWORK_POLICIES})
    settings = env(files)
    assert settings["OBOT_SERVER_AUDIT_LOGS_MODE"] == "s3"
    assert settings["OBOT_SERVER_AUDIT_LOGS_STORE_S3BUCKET"] == "obot-audit-logs"
    assert settings["OBOT_SERVER_AUDIT_LOGS_STORE_S3ENDPOINT"] == "http://rustfs-svc.storage.svc.cluster.local:9000"
    assert secret_data(files, CONFIG_SECRET)["AWS_ACCESS_KEY_ID"] == "obot-audit-access"
    egress = document(files, OBOT_POLICY, "CiliumNetworkPolicy", "obot")["spec"]["egress"]
    assert any(rule.get("toEndpoints") == [{"matchLabels": {"io.kubernetes.pod.namespace": "storage",
                                                            "app.kubernetes.io/instance": "rustfs"}}]
               for rule in egress)
    assert "OBOT_SERVER_AUDIT_LOGS_MODE" not in env(render(OBOT))


def test_metrics_are_scraped_with_the_bearer_token(render):
    files = render({**OBOT, **MONITORING, "obot_monitoring_enabled": True})
    token = secret_data(files, OBOT_DIR + "app/metrics.sops.yaml")["token"]
    assert secret_data(files, CONFIG_SECRET)["OBOT_SERVER_OTEL_BEARER_TOKEN"] == token
    assert token not in (OBOT["obot_bootstrap_token"], OBOT["obot_encryption_key"]) and len(token) == 64
    [endpoint] = document(files, OBOT_DIR + "app/servicemonitor.yaml", "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["path"] == "/debug/metrics"
    assert endpoint["authorization"]["credentials"] == {"name": "obot-metrics", "key": "token"}
    json.loads(document(files, OBOT_DIR + "app/dashboard.yaml", "ConfigMap")["data"]["obot.json"])
    files = render(OBOT)
    assert "OBOT_SERVER_OTEL_BEARER_TOKEN" not in secret_data(files, CONFIG_SECRET)
    assert OBOT_DIR + "app/servicemonitor.yaml" not in files


def test_tracing_exports_to_tempo(render):
    settings = env(render({**OBOT, **TRACING, "obot_tracing_enabled": True, "obot_otel_sample_prob": 0.25}))
    assert settings["OBOT_SERVER_OTEL_BASE_EXPORT_ENDPOINT"] == "http://tempo.monitoring.svc.cluster.local:4317"
    assert settings["OBOT_SERVER_OTEL_SAMPLE_PROB"] == "0.25"
    assert "OBOT_SERVER_OTEL_BASE_EXPORT_ENDPOINT" not in env(render({**OBOT, **TRACING}))


def test_server_settings_follow_the_keys(render):
    files = render({**OBOT, "obot_subdomain": "agents", "obot_admin_emails": "a@example.com,b@example.com",
                    "obot_owner_emails": "o@example.com", "obot_tool_registries": ["/obot-tools/tools", "github.com/x/y"],
                    "obot_default_mcp_catalog": "https://github.com/example/catalog", "obot_cpu_limit": "3",
                    "obot_version": "0.2.31"})
    settings = env(files)
    assert settings["OBOT_SERVER_HOSTNAME"] == "https://agents.example.com"
    assert settings["OBOT_SERVER_AUTH_ADMIN_EMAILS"] == "a@example.com,b@example.com"
    assert settings["OBOT_SERVER_AUTH_OWNER_EMAILS"] == "o@example.com"
    assert settings["OBOT_SERVER_TOOL_REGISTRIES"] == "/obot-tools/tools,github.com/x/y"
    assert settings["OBOT_SERVER_DEFAULT_MCPCATALOG_PATH"] == "https://github.com/example/catalog"
    assert values(files, HR)["resources"]["limits"]["cpu"] == "3"
    assert values(files, HR)["image"]["tag"] == "v0.2.31"
    assert document(files, OBOT_DIR + "app/httproute.yaml", "HTTPRoute")["spec"]["hostnames"] == ["agents.example.com"]


# -- configuration rules ------------------------------------------------------------------------


def test_the_encryption_provider_is_refused_by_name():
    assert "obot_encryption_key" in unsupported_seed_key("obot_encryption_provider")
    assert "obot_encryption_provider" not in ClusterConfig.model_fields
    assert [key for key, _ in rule_issues({key: value for key, value in OBOT.items() if key != "obot_encryption_key"})] \
        == ["obot_encryption_key"]


def test_workspace_and_audit_logs_share_one_key_pair():
    workspace = {"obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "wa",
                 "obot_workspace_s3_secret_key": "ws"}
    assert rule_issues({**OBOT, **RUSTFS, **workspace, "obot_audit_s3_access_key": "wa",
                        "obot_audit_s3_secret_key": "ws"}) == []
    issues = rule_issues({**OBOT, **OBOT_AUDIT, **workspace})
    assert [key for key, _ in issues] == ["obot_audit_s3_access_key"]


def test_s3_workspace_on_rustfs_needs_rustfs():
    workspace = {"obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "wa", "obot_workspace_s3_secret_key": "ws"}
    assert [key for key, _ in rule_issues({**OBOT, **workspace})] == ["obot_s3_endpoint"]
    assert rule_issues({**OBOT, **workspace, "obot_s3_endpoint": "https://s3.example.com"}) == []
    assert rule_issues({**OBOT, **RUSTFS, **workspace}) == []


@pytest.mark.parametrize("settings, key", [
    ({"obot_mcp_default_cpu_request": "600m"}, "obot_mcp_default_cpu_request"),
    ({"obot_mcp_default_memory_limit": "2Gi"}, "obot_mcp_default_memory_limit"),
    ({"obot_mcp_max_cpu": "250m"}, "obot_mcp_default_cpu_limit"),
])
def test_limit_range_order_is_checked(settings, key):
    issues = rule_issues({**OBOT, **settings})
    assert [issue_key for issue_key, _ in issues] == [key]
    assert "LimitRange would be refused" in issues[0][1]
    assert rule_issues({**OBOT, "obot_mcp_default_cpu_limit": "1", "obot_mcp_max_cpu": "1000m"}) == []


@pytest.mark.parametrize("key, value", [("obot_db_password", "pass/word"), ("obot_db_password", "p@ss"),
                                        ("obot_postgres_user", "Obot"), ("obot_postgres_db", "obot-db")])
def test_database_url_parts_must_stay_valid_in_the_url(key, value):
    with pytest.raises(ValidationError) as error:
        ClusterConfig.model_validate({**CORE, **OBOT, key: value})
    assert error.value.errors()[0]["loc"] == (key,)


def test_cookie_secret_is_refused_by_name():
    assert "generates the cookie secret" in unsupported_seed_key("obot_keycloak_cookie_secret")
    assert "obot_keycloak_cookie_secret" not in ClusterConfig.model_fields

