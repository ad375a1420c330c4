"""LiteLLM: the AI model gateway, with its PostgreSQL database and Dragonfly cache, Azure provider
keys, Keycloak SSO, Langfuse callbacks, backups, dashboards, tracing and alerting."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import AzureResourceName, HttpURL, PgIdentifier, Subdomain, secret
from ._shared import (
    MONITORING, TRACING, StorageSize, credentials_need_rustfs, needs, requires_true, requires_values,
)

LITELLM_S3_KEYS = ("litellm_s3_access_key", "litellm_s3_secret_key")
LANGFUSE_KEYS = ("litellm_langfuse_public_key", "litellm_langfuse_secret_key")
WEBHOOKS = ("litellm_slack_webhook_url", "litellm_discord_webhook_url")
# Each Azure key only works with the endpoint it belongs to.
AZURE_PAIRS = (
    ("azure_openai_us_east_api_key", "azure_openai_us_east_resource_name"),
    ("azure_openai_us_east2_api_key", "azure_openai_us_east2_resource_name"),
    ("azure_anthropic_api_key", "azure_anthropic_api_base"),
    ("azure_cohere_embed_api_key", "azure_cohere_embed_api_base"),
    ("azure_cohere_rerank_api_key", "azure_cohere_rerank_api_base"),
)
AZURE_API_VERSION = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$"
HTTPS_BASE = r"^https://\S+$"


@dataclass(frozen=True)
class Model:
    """One entry of LiteLLM's model_list: the name clients ask for, the provider's model, the mode
    LiteLLM's health checks and routing need for anything that is not chat."""

    name: str
    model: str
    mode: str | None = None


@dataclass(frozen=True)
class Provider:
    """A provider endpoint whose models are listed (and whose host is reachable) only when its
    key is set. `base_key` names the key holding its base URL; for Azure OpenAI the base is built
    from the resource name instead."""

    name: str
    key: str
    env: str
    models: tuple[Model, ...]
    base_key: str | None = None
    resource_key: str | None = None
    version_key: str | None = None
    api_version: str | None = None

    @property
    def endpoint_key(self) -> str:
        """The key the endpoint comes from: the Azure resource name, else the base URL."""
        key = self.resource_key or self.base_key
        if key is None:
            raise ValueError(f"provider {self.name} names neither a base URL key nor a resource key")
        return key


_CHAT = "chat"
PROVIDERS = (
    Provider("azure-openai-us-east", "azure_openai_us_east_api_key", "AZURE_OPENAI_US_EAST_API_KEY", (
        Model("gpt-4.1", "azure/gpt-4.1"),
        Model("gpt-4.1-nano", "azure/gpt-4.1-nano"),
        Model("gpt-4o-mini", "azure/gpt-4o-mini"),
        Model("o3", "azure/o3"),
        Model("o4-mini", "azure/o4-mini"),
        Model("text-embedding-3-small", "azure/text-embedding-3-small", "embedding"),
        Model("text-embedding-ada-002", "azure/text-embedding-ada-002", "embedding"),
    ), resource_key="azure_openai_us_east_resource_name", version_key="azure_openai_us_east_api_version"),
    Provider("azure-openai-us-east2", "azure_openai_us_east2_api_key", "AZURE_OPENAI_US_EAST2_API_KEY", (
        Model("gpt-5", "azure/gpt5_series/gpt-5"),
        Model("gpt-5-chat", "azure/gpt5_series/gpt-5-chat"),
        Model("gpt-5-mini", "azure/gpt5_series/gpt-5-mini"),
        Model("gpt-5-nano", "azure/gpt5_series/gpt-5-nano"),
        Model("gpt-5.1", "azure/gpt5_series/gpt-5.1"),
        Model("gpt-5.2", "azure/gpt5_series/gpt-5.2"),
        Model("gpt-image-1", "azure/gpt-image-1", "image_generation"),
        Model("text-embedding-3-large", "azure/text-embedding-3-large", "embedding"),
    ), resource_key="azure_openai_us_east2_resource_name", version_key="azure_openai_us_east2_api_version"),
    # The realtime deployments live on their own endpoint but are paid with the US East 2 key.
    Provider("azure-openai-realtime", "azure_openai_us_east2_api_key", "AZURE_OPENAI_US_EAST2_API_KEY", (
        Model("gpt-realtime", "azure/gpt-realtime", "realtime"),
        Model("gpt-realtime-mini", "azure/gpt-realtime-mini", "realtime"),
    ), base_key="azure_openai_realtime_api_base", api_version="2024-10-01-preview"),
    Provider("azure-anthropic", "azure_anthropic_api_key", "AZURE_ANTHROPIC_API_KEY", (
        Model("claude-opus-4-5", "anthropic/claude-opus-4-5"),
        Model("claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
        Model("claude-opus-4-1", "anthropic/claude-opus-4-1"),
        Model("claude-haiku-4-5", "anthropic/claude-haiku-4-5"),
    ), base_key="azure_anthropic_api_base"),
    Provider("azure-cohere-embed", "azure_cohere_embed_api_key", "AZURE_COHERE_EMBED_API_KEY", (
        Model("cohere-embed-v-4-0", "azure_ai/cohere-embed-v-4-0", "embedding"),
    ), base_key="azure_cohere_embed_api_base"),
    Provider("azure-cohere-rerank", "azure_cohere_rerank_api_key", "AZURE_COHERE_RERANK_API_KEY", (
        Model("cohere-rerank-v3.5", "cohere/cohere-rerank-v3.5", "rerank"),
    ), base_key="azure_cohere_rerank_api_base"),
)


class LiteLLMSettings(Settings):
    litellm_enabled: bool = Field(False, description="Deploy the LiteLLM proxy (needs CNPG and Dragonfly with ACLs).")
    litellm_subdomain: Subdomain = Field("litellm", description="LiteLLM is served at <litellm_subdomain>.<cloudflare_domain>.")
    litellm_replicas: int = Field(1, ge=1, le=10, description="Number of LiteLLM pods.")
    litellm_master_key: str | None = secret(
        None, pattern=r"^sk-.{29,}$", description="Admin API key: starts with sk-, 32+ characters.")
    litellm_salt_key: str | None = secret(
        None, min_length=32, description="Key that encrypts stored provider credentials (32+ characters).")

    # -- database ---------------------------------------------------------------------------
    litellm_db_name: PgIdentifier = Field("litellm", description="Database name (a lower-case identifier).")
    litellm_db_user: PgIdentifier = Field("litellm", description="Database user (a lower-case identifier).")
    litellm_db_password: str | None = secret(None, min_length=1, description="Database password.")
    litellm_db_instances: int = Field(1, ge=1, le=5, description="PostgreSQL instances.")
    litellm_storage_size: StorageSize = Field("10Gi", description="Database volume size.")

    # -- Azure providers --------------------------------------------------------------------
    azure_openai_us_east_api_key: str | None = secret(None, min_length=1, description="Azure OpenAI key, US East resource.")
    azure_openai_us_east_resource_name: AzureResourceName | None = Field(
        None, description="Azure OpenAI resource name in US East (e.g. my-openai-eastus).")
    azure_openai_us_east_api_version: str = Field(
        "2025-01-01-preview", pattern=AZURE_API_VERSION, description="Azure OpenAI API version for US East.")
    azure_openai_us_east2_api_key: str | None = secret(None, min_length=1, description="Azure OpenAI key, US East 2 resource.")
    azure_openai_us_east2_resource_name: AzureResourceName | None = Field(
        None, description="Azure OpenAI resource name in US East 2.")
    azure_openai_us_east2_api_version: str = Field(
        "2025-04-01-preview", pattern=AZURE_API_VERSION, description="Azure OpenAI API version for US East 2.")
    azure_anthropic_api_key: str | None = secret(None, min_length=1, description="Azure AI Services key for Claude models.")
    azure_anthropic_api_base: str | None = Field(
        None, pattern=HTTPS_BASE, description="Azure AI Services base URL for Claude models.")
    azure_cohere_embed_api_key: str | None = secret(None, min_length=1, description="Azure AI Services key for Cohere Embed.")
    azure_cohere_embed_api_base: str | None = Field(None, pattern=HTTPS_BASE, description="Base URL for Cohere Embed.")
    azure_cohere_rerank_api_key: str | None = secret(None, min_length=1, description="Azure AI Services key for Cohere Rerank.")
    azure_cohere_rerank_api_base: str | None = Field(None, pattern=HTTPS_BASE, description="Base URL for Cohere Rerank.")
    azure_openai_realtime_api_base: str | None = Field(
        None, pattern=HTTPS_BASE,
        description="Base URL of the Azure OpenAI resource serving gpt-realtime models (paid with the US East 2 key).")

    # -- SSO --------------------------------------------------------------------------------
    litellm_oidc_enabled: bool = Field(False, description="Sign in to the LiteLLM UI through Keycloak.")
    litellm_oidc_client_secret: str | None = secret(
        None, min_length=1, description="Client secret of the litellm client in Keycloak.")

    # -- Langfuse callbacks -----------------------------------------------------------------
    litellm_langfuse_enabled: bool = Field(False, description="Send LiteLLM traces to Langfuse.")
    litellm_langfuse_public_key: str | None = secret(
        None, pattern=r"^\S+$", description="Langfuse project public key (pk-lf-…).")
    litellm_langfuse_secret_key: str | None = secret(
        None, pattern=r"^\S+$", description="Langfuse project secret key (sk-lf-…).")
    litellm_langfuse_host: HttpURL | None = Field(
        None, description="Langfuse URL. Default: the in-cluster Langfuse when langfuse_enabled, else Langfuse Cloud.")

    # -- backup, dashboards, tracing --------------------------------------------------------
    litellm_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for database backups; with the secret key enables them.")
    litellm_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with litellm_s3_access_key.")
    litellm_monitoring_enabled: bool = Field(
        False, description="Deploy the LiteLLM ServiceMonitor and Grafana dashboards (needs monitoring_enabled).")
    litellm_tracing_enabled: bool = Field(
        False, description="Export LiteLLM traces to Tempo over OTLP gRPC (needs tracing_enabled).")

    # -- alerting ---------------------------------------------------------------------------
    litellm_alerting_enabled: bool = Field(False, description="Send LiteLLM alerts to Slack or Discord.")
    litellm_slack_webhook_url: str | None = secret(
        None, pattern=r"^https://hooks\.slack\.com/\S+$", description="Slack incoming-webhook URL for alerts.")
    litellm_discord_webhook_url: str | None = secret(
        None, pattern=r"^https://discord\.com/api/webhooks/\S+$",
        description="Discord webhook URL for alerts (LiteLLM posts to its Slack-compatible /slack endpoint); "
                    "instead of litellm_slack_webhook_url.")
    litellm_alerting_threshold: int = Field(
        300, ge=60, le=3600, description="Seconds after which a request is reported as hanging or slow.")


def litellm_backup_configured(config) -> bool:
    return all(is_set(getattr(config, key)) for key in LITELLM_S3_KEYS)


@rule
def litellm_requirements(config, nodes):
    if not config.litellm_enabled:
        return
    yield from requires_true(config, "litellm_enabled", ("cnpg_enabled",), "LiteLLM stores its data in PostgreSQL")
    yield from requires_true(config, "litellm_enabled", ("dragonfly_enabled",), "LiteLLM caches in Dragonfly")
    yield from requires_true(config, "litellm_enabled", ("dragonfly_acl_enabled",),
                             "LiteLLM signs in to Dragonfly as its own ACL user")
    yield from requires_values(
        config, ("litellm_master_key", "litellm_salt_key", "litellm_db_password", "dragonfly_litellm_password"),
        "litellm_enabled is true")


@rule
def litellm_flag_prerequisites(config, nodes):
    owner = {"litellm_enabled": "it configures LiteLLM"}
    yield from needs(config, "litellm_oidc_enabled", {**owner, "keycloak_enabled": "Keycloak is the identity provider"})
    yield from needs(config, "litellm_monitoring_enabled", {**owner, "monitoring_enabled": MONITORING})
    yield from needs(config, "litellm_tracing_enabled", {**owner, "tracing_enabled": TRACING})
    for flag in ("litellm_langfuse_enabled", "litellm_alerting_enabled"):
        yield from needs(config, flag, owner)
    if config.litellm_oidc_enabled:
        yield from requires_values(config, ("litellm_oidc_client_secret",), "litellm_oidc_enabled is true")
    if config.litellm_langfuse_enabled:
        yield from requires_values(config, LANGFUSE_KEYS, "litellm_langfuse_enabled is true")
    if config.litellm_alerting_enabled and not any(is_set(getattr(config, key)) for key in WEBHOOKS):
        yield "litellm_alerting_enabled", "requires litellm_slack_webhook_url or litellm_discord_webhook_url"
    if all(is_set(getattr(config, key)) for key in WEBHOOKS):
        yield "litellm_discord_webhook_url", ("cannot be set together with litellm_slack_webhook_url "
                                              "(LiteLLM posts its alerts to one webhook)")


@rule
def litellm_backup_prerequisites(config, nodes):
    yield from set_together(config, LITELLM_S3_KEYS, "LiteLLM backup S3 keys")
    if not config.litellm_enabled:
        return
    yield from credentials_need_rustfs(config, LITELLM_S3_KEYS, "the LiteLLM backup keys")
    if litellm_backup_configured(config):
        yield from requires_true(config, "litellm_s3_access_key", ("cnpg_barman_plugin_enabled",),
                                 "the Barman Cloud plugin ships the database backups")


@rule
def azure_provider_pairs(config, nodes):
    for key, endpoint in AZURE_PAIRS:
        yield from set_together(config, (key, endpoint), "Azure provider")
    if is_set(config.azure_openai_realtime_api_base) and not is_set(config.azure_openai_us_east2_api_key):
        yield "azure_openai_realtime_api_base", "requires azure_openai_us_east2_api_key (the realtime models use it)"


def _api_base(config, provider: Provider) -> str:
    if provider.resource_key:
        return f"https://{getattr(config, provider.resource_key)}.openai.azure.com"
    return getattr(config, provider.endpoint_key)


def enabled_providers(config) -> list[dict[str, object]]:
    """The providers whose key (and endpoint) is set, each with the host LiteLLM must reach, the
    environment variable its key travels in, and its models as LiteLLM's model_list entries."""
    providers = []
    for provider in PROVIDERS:
        endpoint = provider.endpoint_key
        if not (is_set(getattr(config, provider.key)) and is_set(getattr(config, endpoint))):
            continue
        base = _api_base(config, provider)
        params: dict[str, object] = {"api_base": base, "api_key": f"os.environ/{provider.env}"}
        version = getattr(config, provider.version_key) if provider.version_key else provider.api_version
        if version:
            params["api_version"] = version
        models = []
        for model in provider.models:
            entry: dict[str, object] = {"model_name": model.name, "litellm_params": {"model": model.model, **params}}
            if model.mode and model.mode != _CHAT:
                # LiteLLM's background health check cannot probe realtime sessions.
                entry["model_info"] = {"mode": model.mode, **(
                    {"disable_background_health_check": True} if model.mode == "realtime" else {})}
            models.append(entry)
        providers.append({"name": provider.name, "env": provider.env, "api_key": getattr(config, provider.key),
                          "host": urlsplit(base).hostname, "models": models})
    return providers
