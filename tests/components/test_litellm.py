"""LiteLLM (issue 17): the app-template release in ai-system with its CNPG database, its Dragonfly
ACL user, one model list entry per model of each provider whose key is set, Keycloak sign-in,
Langfuse callbacks, alerting, backups, monitoring and tracing.

- end to end with `inv configure --yes`: everything on, and LiteLLM alone with its prerequisites,
  renders a tree the validator accepts; removing the keys prunes ai-system; no credential appears
  outside an encrypted *.sops.yaml;
- rendered in-process (fast): what each key changes in the output.
"""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from cluster_template.config.components.litellm import PROVIDERS
from tests.components.test_data_layer import CNPG, PLUGIN, configure, end_to_end, validate
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
)

DRAGONFLY_ACL = {"dragonfly_enabled": True, "dragonfly_password": "df-default-pass", "dragonfly_acl_enabled": True,
                 "dragonfly_litellm_password": "df-litellm-pass"}
LITELLM = {**CNPG, **DRAGONFLY_ACL, "litellm_enabled": True, "litellm_master_key": "sk-" + "m" * 32,
           "litellm_salt_key": "litellm-salt-0123456789abcdef0123", "litellm_db_password": "ll-db-pass/x@y:z"}
# Each provider's key with the endpoint it belongs to.
PROVIDER_SETTINGS = {
    "azure-openai-us-east": {"azure_openai_us_east_api_key": "az-east-key-123",
                             "azure_openai_us_east_resource_name": "my-openai-eastus"},
    "azure-openai-us-east2": {"azure_openai_us_east2_api_key": "az-east2-key-123",
                              "azure_openai_us_east2_resource_name": "my-openai-eastus2"},
    "azure-openai-realtime": {"azure_openai_us_east2_api_key": "az-east2-key-123",
                              "azure_openai_realtime_api_base": "https://my-realtime.openai.azure.com"},
    "azure-anthropic": {"azure_anthropic_api_key": "az-anthropic-key",
                        "azure_anthropic_api_base": "https://claude.services.ai.azure.com/anthropic"},
    "azure-cohere-embed": {"azure_cohere_embed_api_key": "az-embed-key",
                           "azure_cohere_embed_api_base": "https://embed.services.ai.azure.com"},
    "azure-cohere-rerank": {"azure_cohere_rerank_api_key": "az-rerank-key",
                            "azure_cohere_rerank_api_base": "https://rerank.eastus2.models.ai.azure.com"},
}
ALL_PROVIDERS = {key: value for settings in PROVIDER_SETTINGS.values() for key, value in settings.items()}
SSO = {**KEYCLOAK, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "ll-oidc-secret"}
LANGFUSE_CALLBACKS = {"litellm_langfuse_enabled": True, "litellm_langfuse_public_key": "pk-lf-public-123",
                      "litellm_langfuse_secret_key": "sk-lf-secret-123"}
BACKUP = {**PLUGIN, **RUSTFS, "litellm_s3_access_key": "ll-s3-access", "litellm_s3_secret_key": "ll-s3-secret-key"}
FULL = {**LITELLM, **ALL_PROVIDERS, **SSO, **LANGFUSE_CALLBACKS, **BACKUP, **MONITORING, **TRACING,
        **NETWORK_POLICIES, "network_policies_mode": "enforce", "cnpg_pgvector_enabled": True,
        "litellm_monitoring_enabled": True, "litellm_tracing_enabled": True, "litellm_db_instances": 2,
        "litellm_alerting_enabled": True, "litellm_discord_webhook_url": "https://discord.com/api/webhooks/1/discord-hook-9f3kq"}
PLAINTEXTS = ("m" * 32, "litellm-salt-0123456789abcdef0123", "ll-db-pass", "df-litellm-pass", "az-east-key-123",
              "az-east2-key-123", "az-anthropic-key", "az-embed-key", "az-rerank-key", "ll-oidc-secret",
              "pk-lf-public-123", "sk-lf-secret-123", "ll-s3-secret-key", "discord-hook-9f3kq")

APP = "kubernetes/apps/ai-system/litellm/"
CONFIGMAP = APP + "app/configmap.yaml"
RELEASE = APP + "app/helmrelease.yaml"
SECRET = APP + "app/secret.sops.yaml"
POLICY = APP + "app/network-policy.yaml"
INPUTS = {"cluster.yaml", "nodes.yaml"}
REALM = "matherlynet"


def config_of(files: dict[str, bytes]) -> dict:
    text = document(files, CONFIGMAP, "ConfigMap")["data"]["config.yaml"]
    return YAML(typ="safe", pure=True).load(text)


def env_of(files: dict[str, bytes]) -> dict:
    values = document(files, RELEASE, "HelmRelease")["spec"]["values"]
    return values["controllers"]["litellm"]["containers"]["app"]["env"]


def secret_of(files: dict[str, bytes]) -> dict:
    return document(files, SECRET, "Secret")["stringData"]


def policy(files: dict[str, bytes], name: str = "litellm") -> dict:
    return document(files, POLICY, "CiliumNetworkPolicy", name)["spec"]


def fqdns(files: dict[str, bytes]) -> set[str]:
    return {match["matchName"] for rule in policy(files)["egress"] for match in rule.get("toFQDNs", [])}


# -- end to end ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return end_to_end(initialized_copy(tmp_path_factory.mktemp("litellm") / "repo"), FULL)


def test_everything_on_renders_and_validates(full):
    report = full["report"]
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert "no errors" in full["stdout"]
    for kind in ("HelmRelease", "OCIRepository", "Cluster", "Database", "ObjectStore", "ScheduledBackup",
                 "ServiceMonitor", "CiliumNetworkPolicy", "ConfigMap"):
        assert report.counts.get(kind), f"{kind} not checked"
    files = full["files"]
    assert "for bucket in litellm-backups;" in documents(files, "kubernetes/apps/storage/rustfs/setup/job.yaml")[0][
        "spec"]["template"]["spec"]["containers"][0]["command"][-1]


def test_credentials_only_encrypted_in_sops_files(full):
    files = outputs(full["files"])
    for sealed in (SECRET, APP + "db/secret.sops.yaml", APP + "db/backup.sops.yaml"):
        assert "ENC[AES256_GCM" in files[sealed].decode()
    for path, data in files.items():
        if path in INPUTS:
            continue
        text = data.decode(errors="replace")
        for plain in PLAINTEXTS:
            assert plain not in text, (path, plain)


def test_removing_the_keys_prunes_litellm(full):
    assert full["removed"].returncode == 0, full["removed"].stderr
    left = outputs(full["after_removal"])
    assert not [path for path in left if path.startswith("kubernetes/apps/ai-system/")]
    assert "./ai-system" not in left["kubernetes/apps/kustomization.yaml"].decode()


@pytest.mark.parametrize("settings", [LITELLM, {**LITELLM, **NETWORK_POLICIES, **PROVIDER_SETTINGS["azure-anthropic"]}],
                         ids=["alone", "alone-with-policies"])
def test_litellm_alone_validates(tmp_path, settings):
    project = initialized_copy(tmp_path / "repo")
    result = configure(project, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    report = validate(project)
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert (project.root / APP / "app/helmrelease.yaml").exists()


# -- rendered in-process ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("litellm-render") / "repo"))


def test_off_renders_nothing(render):
    files = render({})
    assert not [path for path in files if path.startswith("kubernetes/apps/ai-system/")]
    assert_kustomizations_complete(files)


@pytest.mark.parametrize("chosen", [
    (), ("azure-openai-us-east",), ("azure-cohere-rerank", "azure-anthropic"),
    ("azure-openai-us-east2", "azure-openai-realtime"), tuple(PROVIDER_SETTINGS),
], ids=["none", "us-east", "rerank-anthropic", "east2-realtime", "all"])
def test_model_list_has_exactly_the_providers_whose_keys_are_set(render, chosen):
    settings = {**LITELLM, **NETWORK_POLICIES}
    for name in chosen:
        settings.update(PROVIDER_SETTINGS[name])
    files = render(settings)
    assert_kustomizations_complete(files)
    by_name = {provider.name: provider for provider in PROVIDERS}
    expected = [model.name for provider in PROVIDERS if provider.name in chosen for model in provider.models]
    models = config_of(files)["model_list"]
    assert [entry["model_name"] for entry in models] == expected
    # Every model reads its key from the environment, and the sealed Secret holds exactly those keys.
    envs = {by_name[name].env for name in chosen}
    assert {entry["litellm_params"]["api_key"] for entry in models} == {f"os.environ/{env}" for env in envs}
    assert {key for key in secret_of(files) if key.startswith("AZURE_")} == envs
    # Egress opens exactly the providers' hosts.
    hosts = {entry["litellm_params"]["api_base"].split("/")[2] for entry in models}
    assert fqdns(files) == hosts


def test_model_entries_carry_endpoint_version_and_mode(render):
    files = render({**LITELLM, **ALL_PROVIDERS, "azure_openai_us_east_api_version": "2024-12-01-preview"})
    models = {entry["model_name"]: entry for entry in config_of(files)["model_list"]}
    assert models["gpt-4.1"]["litellm_params"] == {
        "model": "azure/gpt-4.1", "api_base": "https://my-openai-eastus.openai.azure.com",
        "api_key": "os.environ/AZURE_OPENAI_US_EAST_API_KEY", "api_version": "2024-12-01-preview"}
    assert "model_info" not in models["gpt-4.1"]
    assert models["text-embedding-3-large"]["model_info"] == {"mode": "embedding"}
    realtime = models["gpt-realtime"]
    assert realtime["litellm_params"]["api_base"] == "https://my-realtime.openai.azure.com"
    assert realtime["litellm_params"]["api_key"] == "os.environ/AZURE_OPENAI_US_EAST2_API_KEY"
    assert realtime["model_info"] == {"mode": "realtime", "disable_background_health_check": True}
    assert models["cohere-rerank-v3.5"]["model_info"] == {"mode": "rerank"}
    assert models["claude-sonnet-4-5"]["litellm_params"]["api_base"] == "https://claude.services.ai.azure.com/anthropic"


def test_database_cache_and_keys(render):
    files = render(LITELLM)
    secret = secret_of(files)
    assert secret["LITELLM_MASTER_KEY"] == LITELLM["litellm_master_key"]
    # The password's reserved characters are percent-encoded in the one URL Prisma reads.
    assert secret["DATABASE_URL"] == ("postgresql://litellm:ll-db-pass%2Fx%40y%3Az"
                                      "@litellm-postgres-rw.ai-system.svc:5432/litellm")
    assert secret["CACHE_REDIS_PASSWORD"] == "df-litellm-pass"
    cache = config_of(files)["litellm_settings"]["cache_params"]
    assert (cache["host"], cache["username"], cache["namespace"]) == ("dragonfly.cache.svc.cluster.local", "litellm",
                                                                       "litellm")
    assert cache["password"] == "os.environ/CACHE_REDIS_PASSWORD"
    ks = {doc["metadata"]["name"]: doc for doc in documents(files, APP + "ks.yaml")}
    assert {dep["name"] for dep in ks["litellm"]["spec"]["dependsOn"]} == {"litellm-postgres", "dragonfly"}
    assert ks["litellm-postgres"]["spec"]["path"] == "./kubernetes/apps/ai-system/litellm/db"
    values = document(files, RELEASE, "HelmRelease")["spec"]["values"]
    assert values["service"]["litellm"]["ports"]["http"]["port"] == 4000
    assert values["route"]["litellm"]["hostnames"] == ["litellm.example.com"]
    # Nothing optional without its keys: no callbacks, alerting, SSO or monitoring files.
    assert "callbacks" not in config_of(files)["litellm_settings"]
    assert "alerting" not in config_of(files)["general_settings"]
    assert not any(key.startswith("GENERIC_") for key in env_of(files))
    assert APP + "app/servicemonitor.yaml" not in files and POLICY not in files


def test_sso_langfuse_tracing_and_alerting(render):
    files = render({**LITELLM, **SSO, **LANGFUSE_CALLBACKS, **TRACING, "litellm_tracing_enabled": True,
                    "litellm_alerting_enabled": True, "litellm_alerting_threshold": 120,
                    "litellm_discord_webhook_url": "https://discord.com/api/webhooks/1/discord-hook-9f3kq"})
    env = env_of(files)
    assert env["GENERIC_CLIENT_ID"] == "litellm"
    assert env["GENERIC_AUTHORIZATION_ENDPOINT"] == "https://auth.example.com/realms/" + REALM + "/protocol/openid-connect/auth"
    assert env["GENERIC_TOKEN_ENDPOINT"].startswith("http://keycloak-service.identity.svc.cluster.local:8080/realms/")
    assert env["PROXY_BASE_URL"] == "https://litellm.example.com"
    assert env["LANGFUSE_HOST"] == "https://cloud.langfuse.com"
    assert env["OTEL_ENDPOINT"] == "http://tempo.monitoring.svc.cluster.local:4317"
    secret = secret_of(files)
    assert secret["GENERIC_CLIENT_SECRET"] == "ll-oidc-secret"
    assert secret["LANGFUSE_SECRET_KEY"] == "sk-lf-secret-123"
    # Discord takes LiteLLM's Slack-format alerts on its /slack endpoint.
    assert secret["SLACK_WEBHOOK_URL"] == "https://discord.com/api/webhooks/1/discord-hook-9f3kq/slack"
    config = config_of(files)
    assert config["litellm_settings"]["callbacks"] == ["otel"]
    assert config["litellm_settings"]["success_callback"] == ["langfuse"]
    assert config["general_settings"]["alerting"] == ["slack"]
    assert config["general_settings"]["alerting_threshold"] == 120


def test_langfuse_in_the_cluster_is_reached_directly(render):
    langfuse = {"langfuse_enabled": True, "langfuse_nextauth_secret": "n" * 32, "langfuse_salt": "s" * 32,
                "langfuse_encryption_key": "0123456789abcdef" * 4, "langfuse_postgres_password": "lf-db-pass",
                "langfuse_clickhouse_password": "lf-ch-pass", "dragonfly_langfuse_password": "df-langfuse-pass",
                **RUSTFS, "langfuse_s3_access_key": "lf-access", "langfuse_s3_secret_key": "lf-secret-key"}
    files = render({**LITELLM, **LANGFUSE_CALLBACKS, **langfuse, **NETWORK_POLICIES})
    assert env_of(files)["LANGFUSE_HOST"] == "http://langfuse-web.ai-system.svc.cluster.local:3000"
    assert fqdns(files) == set()
    to_langfuse = [rule for rule in policy(files)["egress"]
                   if any(match.get("app.kubernetes.io/instance") == "langfuse"
                          for match in (e["matchLabels"] for e in rule.get("toEndpoints", [])))]
    assert to_langfuse and to_langfuse[0]["toPorts"][0]["ports"][0]["port"] == "3000"


@pytest.mark.parametrize("use_litellm", [True, False])
def test_obot_is_admitted_only_when_it_uses_litellm(render, use_litellm):
    obot = {"obot_enabled": True, "obot_db_password": "obot-db-pass", "obot_bootstrap_token": "b" * 64,
            "obot_encryption_key": "A" * 43 + "=", "obot_litellm_enabled": use_litellm}
    files = render({**LITELLM, **obot, **NETWORK_POLICIES})
    sources = [match["matchLabels"] for rule in policy(files)["ingress"] for match in rule["fromEndpoints"]]
    assert ({"io.kubernetes.pod.namespace": "ai-system", "app.kubernetes.io/name": "obot"} in sources) is use_litellm


def test_database_policy_admits_litellm_and_replicas(render):
    files = render({**LITELLM, **NETWORK_POLICIES, "litellm_db_instances": 1})
    single = policy(files, "litellm-postgres-clients")
    assert [rule["fromEndpoints"] for rule in single["ingress"]] == [[{"matchLabels": {
        "app.kubernetes.io/instance": "litellm"}}]]
    assert "egress" not in single
    replicated = policy(render({**LITELLM, **NETWORK_POLICIES, "litellm_db_instances": 3}), "litellm-postgres-clients")
    assert len(replicated["ingress"]) == 2 and replicated["egress"]


def test_monitoring_files_only_with_prometheus(render):
    files = render({**LITELLM, **MONITORING, "litellm_monitoring_enabled": True})
    monitor = document(files, APP + "app/servicemonitor.yaml", "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/service": "litellm"}
    assert document(files, APP + "app/dashboard.yaml", "ConfigMap")["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert config_of(files)["litellm_settings"]["callbacks"] == ["prometheus"]
    assert_kustomizations_complete(files)
