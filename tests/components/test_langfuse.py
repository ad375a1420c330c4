"""Langfuse (issue 17): the Langfuse chart (web, worker, bundled ClickHouse) in ai-system on the
cluster's CNPG database, Dragonfly and RustFS buckets, with Keycloak sign-in, headless
initialisation, default access for SSO users, backups, monitoring and tracing; and Langfuse with
LiteLLM sending its traces to it.

- end to end with `inv configure --yes`: Langfuse with everything on, LiteLLM and Langfuse
  together, and Langfuse alone with its prerequisites render a tree the validator accepts; removing
  the keys prunes ai-system; no credential appears outside an encrypted *.sops.yaml;
- rendered in-process (fast): what each key changes in the output.
"""

from __future__ import annotations

import pytest

from tests.components.test_data_layer import CNPG, PLUGIN, configure, end_to_end, validate
from tests.components.test_litellm import FULL as LITELLM_FULL
from tests.components.test_litellm import KEYCLOAK
from tests.components.test_litellm import PLAINTEXTS as LITELLM_PLAINTEXTS
from tests.components.test_platform import (
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
)

DRAGONFLY = {"dragonfly_enabled": True, "dragonfly_password": "df-default-pass"}
LANGFUSE = {**CNPG, **DRAGONFLY, **RUSTFS, "langfuse_enabled": True,
            "langfuse_nextauth_secret": "nextauth-0123456789abcdef0123456789ab",
            "langfuse_salt": "lfsalt-0123456789abcdef0123456789abcd",
            "langfuse_encryption_key": "0123456789abcdef" * 4, "langfuse_postgres_password": "lf-db-pass-1",
            "langfuse_clickhouse_password": "lf-ch-pass-1", "langfuse_s3_access_key": "lf-access",
            "langfuse_s3_secret_key": "lf-s3-secret-1"}
HEADLESS = {"langfuse_init_org_id": "my-org", "langfuse_init_user_email": "admin@corp.example",
            "langfuse_init_user_password": "init-password-0123456"}
PROJECT = {"langfuse_init_project_id": "my-project", "langfuse_init_project_public_key": "lf_pk_abc123",
           "langfuse_init_project_secret_key": "lf_sk_abc123", "langfuse_init_project_retention": 30}
SSO = {**KEYCLOAK, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "lf-kc-secret-1"}
FULL = {**LANGFUSE, **SSO, **HEADLESS, **PROJECT, **PLUGIN, **MONITORING, **TRACING, **NETWORK_POLICIES,
        "network_policies_mode": "enforce", "dragonfly_acl_enabled": True,
        "dragonfly_langfuse_password": "df-langfuse-pass", "langfuse_disable_password_auth": True,
        "langfuse_sso_domain_enforcement": "corp.example", "langfuse_backup_enabled": True,
        "langfuse_monitoring_enabled": True, "langfuse_tracing_enabled": True,
        "langfuse_smtp_url": "smtp://mailer:mail-pass-1@mail.corp.example:2525",
        "langfuse_default_org_role": "VIEWER", "langfuse_default_project_role": "MEMBER",
        "langfuse_clickhouse_cluster_enabled": True, "langfuse_clickhouse_replicas": 3}
BOTH = {**LITELLM_FULL, **FULL}
PLAINTEXTS = ("nextauth-0123456789abcdef0123456789ab", "lfsalt-0123456789abcdef0123456789abcd", "0123456789abcdef" * 4,
              "lf-db-pass-1", "lf-ch-pass-1", "lf-s3-secret-1", "df-langfuse-pass", "lf-kc-secret-1", "mail-pass-1",
              "admin@corp.example", "init-password-0123456", "lf_sk_abc123", "lf_pk_abc123")

APP = "kubernetes/apps/ai-system/langfuse/"
RELEASE = APP + "app/helmrelease.yaml"
SECRET = APP + "app/secret.sops.yaml"
POLICY = APP + "app/network-policy.yaml"
SETUP_JOB = "kubernetes/apps/storage/rustfs/setup/job.yaml"
INPUTS = {"cluster.yaml", "nodes.yaml"}


def values_of(files: dict[str, bytes]) -> dict:
    return document(files, RELEASE, "HelmRelease")["spec"]["values"]


def env_of(files: dict[str, bytes]) -> dict[str, object]:
    """additionalEnv as name -> value, or -> the langfuse-secret key for a sealed one."""
    env = {}
    for entry in values_of(files)["langfuse"]["additionalEnv"]:
        if "valueFrom" in entry:
            reference = entry["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "langfuse-secret"
            env[entry["name"]] = ("secret", reference["key"])
        else:
            env[entry["name"]] = entry["value"]
    return env


def secret_of(files: dict[str, bytes]) -> dict:
    return document(files, SECRET, "Secret")["stringData"]


def bucket_script(files: dict[str, bytes]) -> str:
    return document(files, SETUP_JOB, "Job")["spec"]["template"]["spec"]["containers"][0]["command"][-1]


def assert_sealed_only(files: dict[str, bytes], plaintexts: tuple[str, ...]) -> None:
    for path, data in outputs(files).items():
        if path in INPUTS:
            continue
        text = data.decode(errors="replace")
        for plain in plaintexts:
            assert plain not in text, (path, plain)


# -- end to end ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return end_to_end(initialized_copy(tmp_path_factory.mktemp("langfuse") / "repo"), FULL)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    return end_to_end(initialized_copy(tmp_path_factory.mktemp("ai-stack") / "repo"), BOTH)


@pytest.mark.parametrize("scenario", ["full", "both"])
@pytest.mark.slow
def test_everything_on_renders_and_validates(scenario, request):
    run = request.getfixturevalue(scenario)
    report = run["report"]
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert "no errors" in run["stdout"]
    for kind in ("HelmRelease", "HelmRepository", "HTTPRoute", "Cluster", "ObjectStore", "ScheduledBackup",
                 "CiliumNetworkPolicy", "ConfigMap"):
        assert report.counts.get(kind), f"{kind} not checked"
    files = run["files"]
    assert "langfuse-postgres-backups langfuse-events langfuse-media langfuse-exports;" in bucket_script(files)
    for sealed in (SECRET, APP + "db/secret.sops.yaml", APP + "db/backup.sops.yaml"):
        assert "ENC[AES256_GCM" in files[sealed].decode()


def test_credentials_only_encrypted_in_sops_files(full, both):
    assert_sealed_only(full["files"], PLAINTEXTS)
    assert_sealed_only(both["files"], PLAINTEXTS + LITELLM_PLAINTEXTS)


@pytest.mark.parametrize("scenario", ["full", "both"])
def test_removing_the_keys_prunes_ai_system(scenario, request):
    run = request.getfixturevalue(scenario)
    assert run["removed"].returncode == 0, run["removed"].stderr
    left = outputs(run["after_removal"])
    assert not [path for path in left if path.startswith("kubernetes/apps/ai-system/")]
    assert "./ai-system" not in left["kubernetes/apps/kustomization.yaml"].decode()


def test_litellm_traces_go_to_the_langfuse_in_the_cluster(both):
    files = both["files"]
    release = document(files, "kubernetes/apps/ai-system/litellm/app/helmrelease.yaml", "HelmRelease")
    env = release["spec"]["values"]["controllers"]["litellm"]["containers"]["app"]["env"]
    assert env["LANGFUSE_HOST"] == "http://langfuse-web.ai-system.svc.cluster.local:3000"
    web = document(files, POLICY, "CiliumNetworkPolicy", "langfuse-web")["spec"]
    sources = [match["matchLabels"] for match in web["ingress"][0]["fromEndpoints"]]
    assert {"io.kubernetes.pod.namespace": "ai-system", "app.kubernetes.io/instance": "litellm"} in sources


def test_langfuse_alone_validates(tmp_path):
    project = initialized_copy(tmp_path / "repo")
    result = configure(project, LANGFUSE)
    assert result.returncode == 0, result.stdout + result.stderr
    report = validate(project)
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert not (project.root / "kubernetes/apps/ai-system/litellm").exists()


# -- rendered in-process ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("langfuse-render") / "repo"))


def test_off_renders_nothing(render):
    files = render({})
    assert not [path for path in files if path.startswith("kubernetes/apps/ai-system/")]
    assert_kustomizations_complete(files)


def test_core_release(render):
    files = render(LANGFUSE)
    assert_kustomizations_complete(files)
    release = document(files, RELEASE, "HelmRelease")
    assert release["spec"]["chart"]["spec"]["version"] == "1.5.41"
    values = values_of(files)
    assert values["langfuse"]["nextauth"]["url"] == "https://langfuse.example.com"
    assert values["postgresql"]["deploy"] is False and values["postgresql"]["auth"]["existingSecret"] == "langfuse-postgres-app"
    assert values["redis"]["host"] == "dragonfly.cache.svc.cluster.local"
    assert values["redis"]["auth"]["username"] == "default"
    assert secret_of(files)["REDIS_PASSWORD"] == "df-default-pass"
    clickhouse = values["clickhouse"]
    assert (clickhouse["clusterEnabled"], clickhouse["replicaCount"], clickhouse["zookeeper"]["enabled"]) == (False, 1, False)
    assert clickhouse["auth"]["existingSecretKey"] == "CLICKHOUSE_PASSWORD"
    s3 = values["s3"]
    assert (s3["deploy"], s3["bucket"], s3["endpoint"]) == (False, "langfuse-events",
                                                            "http://rustfs-svc.storage.svc.cluster.local:9000")
    assert s3["mediaUpload"]["downloadUrlExpirySeconds"] == 3600
    assert "for bucket in langfuse-events langfuse-media langfuse-exports;" in bucket_script(files)
    env = env_of(files)
    assert env["AUTH_SESSION_MAX_AGE"] == "43200"
    assert not [name for name in env if name.startswith(("LANGFUSE_INIT_", "LANGFUSE_DEFAULT_", "OTEL_", "SMTP"))]
    assert "auth" not in values["langfuse"]
    route = document(files, APP + "app/httproute.yaml", "HTTPRoute")
    assert route["spec"]["hostnames"] == ["langfuse.example.com"]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "langfuse-web", "port": 3000}]
    ks = {doc["metadata"]["name"]: doc for doc in documents(files, APP + "ks.yaml")}
    assert {dep["name"] for dep in ks["langfuse"]["spec"]["dependsOn"]} == {"langfuse-postgres", "dragonfly",
                                                                             "rustfs-setup"}


def test_settings_reach_the_chart(render):
    files = render({**LANGFUSE, "langfuse_chart_version": "1.5.40", "langfuse_log_level": "debug",
                    "langfuse_log_format": "json", "langfuse_disable_signup": True, "langfuse_session_max_age": 720,
                    "langfuse_media_download_url_expiry": 600, "langfuse_batch_export_enabled": False,
                    "langfuse_s3_concurrent_writes": 20, "langfuse_cache_prompt_ttl": 60,
                    "langfuse_web_replicas": 2, "langfuse_worker_replicas": 3})
    values = values_of(files)
    assert document(files, RELEASE, "HelmRelease")["spec"]["chart"]["spec"]["version"] == "1.5.40"
    assert values["langfuse"]["logging"] == {"level": "debug", "format": "json"}
    assert values["langfuse"]["features"]["signUpDisabled"] is True
    assert (values["langfuse"]["web"]["replicas"], values["langfuse"]["worker"]["replicas"]) == (2, 3)
    assert values["s3"]["mediaUpload"]["downloadUrlExpirySeconds"] == 600
    assert values["s3"]["batchExport"]["enabled"] is False
    assert values["s3"]["concurrency"]["writes"] == 20
    env = env_of(files)
    assert (env["AUTH_SESSION_MAX_AGE"], env["LANGFUSE_CACHE_PROMPT_TTL_SECONDS"]) == ("720", "60")
    assert "langfuse-exports" not in bucket_script(files)


def test_sso_headless_init_and_default_access(render):
    files = render({**LANGFUSE, **SSO, **HEADLESS, **PROJECT, "langfuse_disable_password_auth": True,
                    "langfuse_default_org_role": "VIEWER", "langfuse_default_project_role": "MEMBER",
                    "langfuse_smtp_url": "smtp://mailer:mail-pass-1@mail.corp.example:2525"})
    auth = values_of(files)["langfuse"]["auth"]
    assert auth["disableUsernamePassword"] is True
    keycloak = auth["providers"]["keycloak"]
    assert keycloak["clientId"] == "langfuse"
    assert keycloak["issuer"] == "http://keycloak-service.identity.svc.cluster.local:8080/realms/matherlynet"
    assert keycloak["clientSecret"] == {"secretKeyRef": {"name": "langfuse-secret", "key": "KEYCLOAK_CLIENT_SECRET"}}
    env = env_of(files)
    assert env["LANGFUSE_INIT_ORG_ID"] == "my-org" and env["LANGFUSE_INIT_ORG_NAME"] == "kubernetes"
    assert env["LANGFUSE_INIT_USER_EMAIL"] == ("secret", "LANGFUSE_INIT_USER_EMAIL")
    assert env["LANGFUSE_INIT_USER_PASSWORD"] == ("secret", "LANGFUSE_INIT_USER_PASSWORD")
    assert env["LANGFUSE_INIT_PROJECT_ID"] == "my-project" and env["LANGFUSE_INIT_PROJECT_RETENTION"] == "30"
    assert env["LANGFUSE_INIT_PROJECT_SECRET_KEY"] == ("secret", "LANGFUSE_INIT_PROJECT_SECRET_KEY")
    # New SSO users land in the initial organization and project unless others are named.
    assert (env["LANGFUSE_DEFAULT_ORG_ID"], env["LANGFUSE_DEFAULT_ORG_ROLE"]) == ("my-org", "VIEWER")
    assert (env["LANGFUSE_DEFAULT_PROJECT_ID"], env["LANGFUSE_DEFAULT_PROJECT_ROLE"]) == ("my-project", "MEMBER")
    assert env["SMTP_CONNECTION_URL"] == ("secret", "SMTP_CONNECTION_URL")
    assert env["EMAIL_FROM_ADDRESS"] == "noreply@example.com"
    secret = secret_of(files)
    for key in ("KEYCLOAK_CLIENT_SECRET", "LANGFUSE_INIT_USER_EMAIL", "LANGFUSE_INIT_USER_PASSWORD",
                "LANGFUSE_INIT_PROJECT_PUBLIC_KEY", "LANGFUSE_INIT_PROJECT_SECRET_KEY", "SMTP_CONNECTION_URL"):
        assert secret[key], key
    assert secret["SMTP_CONNECTION_URL"] == "smtp://mailer:mail-pass-1@mail.corp.example:2525"


def test_default_access_to_other_organization(render):
    files = render({**LANGFUSE, **HEADLESS, "langfuse_default_org_id": "other-org", "langfuse_default_org_role": "MEMBER"})
    env = env_of(files)
    assert env["LANGFUSE_DEFAULT_ORG_ID"] == "other-org"
    assert "LANGFUSE_DEFAULT_PROJECT_ID" not in env and "LANGFUSE_INIT_PROJECT_ID" not in env


def test_acl_user_cluster_mode_tracing_and_monitoring(render):
    files = render({**LANGFUSE, **MONITORING, **TRACING, "dragonfly_acl_enabled": True,
                    "dragonfly_langfuse_password": "df-langfuse-pass", "langfuse_monitoring_enabled": True,
                    "langfuse_tracing_enabled": True, "langfuse_trace_sampling_ratio": 0.5,
                    "langfuse_clickhouse_cluster_enabled": True, "langfuse_clickhouse_replicas": 3})
    values = values_of(files)
    assert values["redis"]["auth"]["username"] == "langfuse"
    assert secret_of(files)["REDIS_PASSWORD"] == "df-langfuse-pass"
    clickhouse = values["clickhouse"]
    assert (clickhouse["clusterEnabled"], clickhouse["replicaCount"], clickhouse["zookeeper"]["enabled"]) == (True, 3, True)
    assert clickhouse["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": True}}
    env = env_of(files)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tempo.monitoring.svc.cluster.local:4318"
    assert env["OTEL_TRACE_SAMPLING_RATIO"] == "0.5"
    assert document(files, APP + "app/dashboard.yaml", "ConfigMap")["metadata"]["annotations"]["grafana_folder"] == "AI"
    assert_kustomizations_complete(files)


def test_network_policies(render):
    files = render({**LANGFUSE, **NETWORK_POLICIES, **SSO, "langfuse_postgres_instances": 2,
                    "langfuse_smtp_url": "smtps://mailer:mail-pass-1@mail.corp.example"})
    app = document(files, POLICY, "CiliumNetworkPolicy", "langfuse-app")["spec"]
    namespaces = {match["matchLabels"].get("io.kubernetes.pod.namespace")
                  for rule in app["egress"] for match in rule.get("toEndpoints", [])}
    assert namespaces == {"ai-system", "cache", "storage", "identity", "kube-system"}
    fqdns = [(rule["toFQDNs"][0]["matchName"], rule["toPorts"][0]["ports"][0]["port"])
             for rule in app["egress"] if "toFQDNs" in rule]
    assert fqdns == [("mail.corp.example", "465")]
    clients = document(files, POLICY, "CiliumNetworkPolicy", "langfuse-postgres-clients")["spec"]
    assert clients["ingress"][0]["fromEndpoints"] == [{"matchLabels": {
        "app.kubernetes.io/instance": "langfuse", "app.kubernetes.io/name": "langfuse"}}]
    assert len(clients["ingress"]) == 2
    web = document(files, POLICY, "CiliumNetworkPolicy", "langfuse-web")["spec"]
    assert len(web["ingress"][0]["fromEndpoints"]) == 1
    without_mail = document(render({**LANGFUSE, **NETWORK_POLICIES}), POLICY, "CiliumNetworkPolicy", "langfuse-app")
    assert not [rule for rule in without_mail["spec"]["egress"] if "toFQDNs" in rule]


def test_langfuse_keys_stay_under_the_prefix_its_acl_user_may_touch(render):
    from tests.components.test_data_layer import DRAGONFLY_SECRET

    files = render({**LANGFUSE, "dragonfly_acl_enabled": True, "dragonfly_langfuse_password": "df-langfuse-pass"})
    prefix = env_of(files)["REDIS_KEY_PREFIX"]
    acl = document(files, DRAGONFLY_SECRET, "Secret")["stringData"]["acl"].splitlines()
    rules = next(line for line in acl if line.split()[1] == "langfuse").split()
    assert f"~{prefix}*" in rules and "+@scripting" in rules
    dragonfly = document(files, "kubernetes/apps/cache/dragonfly/app/dragonfly.yaml", "Dragonfly")
    assert "--default_lua_flags=allow-undeclared-keys" in dragonfly["spec"]["args"]

    without_langfuse = render({**DRAGONFLY})
    args = document(without_langfuse, "kubernetes/apps/cache/dragonfly/app/dragonfly.yaml", "Dragonfly")["spec"]["args"]
    assert "--default_lua_flags=allow-undeclared-keys" not in args
