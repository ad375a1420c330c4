"""Obot: the MCP gateway and AI agent platform (jrmatherly/obot-entraid chart), with its PostgreSQL
database (CNPG), workspace storage, Keycloak SSO, the namespace hosting MCP servers with its quotas,
backups and audit-log export to RustFS, dashboards, tracing and the LiteLLM model gateway."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import DNSLabel, HttpURL, PgIdentifier, Subdomain, secret
from ._shared import (
    BUCKET, MONITORING, TRACING, CpuQuantity, Ratio, SemVer, StorageSize, all_set, credentials_need_rustfs, needs,
    requires_true, requires_values,
)

OBOT_S3_KEYS = ("obot_s3_access_key", "obot_s3_secret_key")
AUDIT_S3_KEYS = ("obot_audit_s3_access_key", "obot_audit_s3_secret_key")
WORKSPACE_S3_KEYS = ("obot_workspace_s3_access_key", "obot_workspace_s3_secret_key")
# MCP container defaults and the largest limit, as the LimitRange orders them (the API server
# refuses a LimitRange whose default request exceeds its default limit, or a default above max).
MCP_LIMIT_ORDER = {
    "cpu": ("obot_mcp_default_cpu_request", "obot_mcp_default_cpu_limit", "obot_mcp_max_cpu"),
    "memory": ("obot_mcp_default_memory_request", "obot_mcp_default_memory_limit", "obot_mcp_max_memory"),
}
# Obot reads its database only as a URL (postgres://user:password@host/db): these stay valid there as written.
URL_SAFE_PASSWORD = r"^[A-Za-z0-9._~+=-]+$"
_REFUSED_LIMIT_RANGE = "the MCP namespace's LimitRange would be refused"
_BINARY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
# The names the cluster's RustFS service answers to from Obot's namespace (the DNS search path
# completes the shorter ones).
RUSTFS_HOSTS = ("rustfs-svc.storage.svc.cluster.local", "rustfs-svc.storage.svc", "rustfs-svc.storage")


class ObotSettings(Settings):
    obot_enabled: bool = Field(False, description="Deploy Obot (needs CNPG).")
    obot_subdomain: Subdomain = Field("obot", description="Obot is served at <obot_subdomain>.<cloudflare_domain>.")
    obot_version: SemVer = Field("0.2.30", description="Obot image version.")
    obot_replicas: int = Field(1, ge=1, le=10, description="Number of Obot pods (more than 1 needs the s3 workspace).")
    obot_cpu_request: CpuQuantity = Field("500m", description="CPU request of the Obot pod.")
    obot_cpu_limit: CpuQuantity = Field("2000m", description="CPU limit of the Obot pod.")
    obot_memory_request: StorageSize = Field("1Gi", description="Memory request of the Obot pod.")
    obot_memory_limit: StorageSize = Field("4Gi", description="Memory limit of the Obot pod.")

    # -- database and storage ---------------------------------------------------------------
    obot_db_password: str | None = secret(
        None, pattern=URL_SAFE_PASSWORD,
        description="PostgreSQL password: letters, digits and . _ ~ + = - (it is part of Obot's database URL; "
                    "openssl rand -hex 32).")
    obot_postgres_user: PgIdentifier = Field("obot", description="PostgreSQL user (a lower-case identifier).")
    obot_postgres_db: PgIdentifier = Field("obot", description="PostgreSQL database (a lower-case identifier).")
    obot_postgresql_replicas: int = Field(1, ge=1, le=5, description="PostgreSQL instances.")
    obot_postgresql_storage_size: StorageSize = Field("10Gi", description="PostgreSQL volume size.")
    obot_storage_size: StorageSize = Field("20Gi", description="Workspace volume size (directory workspace).")
    obot_storage_class: str | None = Field(
        None, min_length=1, description="Storage class of the Obot volumes. Default: storage_class.")
    obot_workspace_provider: Literal["directory", "s3"] = Field(
        "directory", description="directory: one volume, a single replica; s3: S3 storage, several replicas possible.")
    obot_s3_bucket: str = Field(
        "obot-workspaces", pattern=BUCKET,
        description="Workspace bucket (s3 workspace); rustfs-setup creates it when the workspace is on RustFS.")
    obot_s3_endpoint: HttpURL = Field(
        "http://rustfs-svc.storage.svc.cluster.local:9000", description="Workspace S3 endpoint (s3 workspace).")
    obot_s3_region: str = Field(
        "us-east-1", min_length=1, description="S3 region of the workspace (s3 workspace) and audit-log stores.")
    obot_workspace_s3_access_key: str | None = secret(
        None, min_length=1, description="Workspace S3 access key (only with obot_workspace_provider: s3).")
    obot_workspace_s3_secret_key: str | None = secret(
        None, min_length=1, description="Workspace S3 secret key (only with obot_workspace_provider: s3).")

    # -- encryption and bootstrap -----------------------------------------------------------
    obot_encryption_key: str | None = secret(
        None, pattern=r"^[A-Za-z0-9+/]{43}=$", description="Data encryption key: 32 bytes, base64 (openssl rand -base64 32).")
    obot_bootstrap_token: str | None = secret(
        None, min_length=1, description="Token for the first sign-in (openssl rand -hex 32).")

    # -- access -----------------------------------------------------------------------------
    obot_admin_emails: str | None = Field(None, min_length=1, description="Comma-separated e-mails of administrators.")
    obot_owner_emails: str | None = Field(None, min_length=1, description="Comma-separated e-mails of owners.")
    obot_allowed_email_domains: str = Field(
        "*", min_length=1, description="Comma-separated e-mail domains allowed to sign in through Keycloak, or *.")
    obot_tool_registries: list[str] = Field(
        ["/obot-tools/tools"], description="Tool registries (gptscript repositories or paths).")
    obot_default_mcp_catalog: str | None = Field(
        None, min_length=1, description="MCP server catalog offered to every user (Git repository, URL or path).")

    # -- Keycloak SSO -----------------------------------------------------------------------
    obot_keycloak_enabled: bool = Field(False, description="Sign in to Obot through Keycloak.")
    obot_keycloak_client_id: str = Field("obot", min_length=1, description="Client ID of the obot client in Keycloak.")
    obot_keycloak_client_secret: str | None = secret(None, min_length=1, description="Client secret of that client.")
    obot_keycloak_allowed_groups: str | None = Field(
        None, min_length=1, description="Comma-separated Keycloak groups allowed in. Unset: everyone.")
    obot_keycloak_allowed_roles: str | None = Field(
        None, min_length=1, description="Comma-separated Keycloak roles allowed in. Unset: everyone.")

    # -- MCP namespace ----------------------------------------------------------------------
    obot_mcp_namespace: DNSLabel = Field(
        "obot-mcp", description="Namespace the MCP server pods run in (Pod Security baseline enforced, restricted audited).")
    obot_mcp_cpu_requests_quota: CpuQuantity = Field("4", description="CPU requests quota of the MCP namespace.")
    obot_mcp_cpu_limits_quota: CpuQuantity = Field("8", description="CPU limits quota of the MCP namespace.")
    obot_mcp_memory_requests_quota: StorageSize = Field("8Gi", description="Memory requests quota of the MCP namespace.")
    obot_mcp_memory_limits_quota: StorageSize = Field("16Gi", description="Memory limits quota of the MCP namespace.")
    obot_mcp_max_pods: int = Field(20, ge=1, le=1000, description="Most MCP server pods at once.")
    obot_mcp_default_cpu_request: CpuQuantity = Field("100m", description="Default CPU request of an MCP server container.")
    obot_mcp_default_cpu_limit: CpuQuantity = Field("500m", description="Default CPU limit of an MCP server container.")
    obot_mcp_default_memory_request: StorageSize = Field(
        "256Mi", description="Default memory request of an MCP server container.")
    obot_mcp_default_memory_limit: StorageSize = Field("512Mi", description="Default memory limit of an MCP server container.")
    obot_mcp_max_cpu: CpuQuantity = Field("1000m", description="Largest CPU limit of an MCP server container.")
    obot_mcp_max_memory: StorageSize = Field("1Gi", description="Largest memory limit of an MCP server container.")

    # -- backup and audit logs --------------------------------------------------------------
    obot_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for database backups; with the secret key enables them.")
    obot_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with obot_s3_access_key.")
    obot_audit_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for audit-log export; with the secret key enables it.")
    obot_audit_s3_secret_key: str | None = secret(
        None, min_length=1, description="Secret key paired with obot_audit_s3_access_key.")

    # -- observability and LiteLLM ----------------------------------------------------------
    obot_monitoring_enabled: bool = Field(
        False, description="Deploy the Obot ServiceMonitor and Grafana dashboard (needs monitoring_enabled).")
    obot_tracing_enabled: bool = Field(False, description="Export Obot traces to Tempo over OTLP gRPC (needs tracing_enabled).")
    obot_otel_sample_prob: Ratio = Field(0.1, description="Share of Obot requests traced, 0.0 to 1.0.")
    obot_litellm_enabled: bool | None = Field(
        None, description="Route Obot's model requests through LiteLLM. Default: on when litellm_enabled.")


def obot_backup_configured(config) -> bool:
    return all(is_set(getattr(config, key)) for key in OBOT_S3_KEYS)


def workspace_on_rustfs(config) -> bool:
    """The s3 workspace is on the cluster's RustFS (not on another S3 service)."""
    return config.obot_workspace_provider == "s3" and urlsplit(config.obot_s3_endpoint).hostname in RUSTFS_HOSTS


@rule
def obot_requirements(config, nodes):
    if not config.obot_enabled:
        return
    yield from requires_true(config, "obot_enabled", ("cnpg_enabled",), "Obot stores its data in PostgreSQL")
    yield from requires_values(config, ("obot_db_password", "obot_bootstrap_token", "obot_encryption_key"),
                               "obot_enabled is true")
    if config.obot_workspace_provider == "s3":
        yield from requires_values(config, WORKSPACE_S3_KEYS, "obot_workspace_provider is s3")
        return
    if config.obot_replicas > 1:
        yield "obot_replicas", "more than 1 requires obot_workspace_provider: s3 (the directory workspace is one volume)"
    for key in WORKSPACE_S3_KEYS:
        if is_set(getattr(config, key)):
            yield key, (f"is used only with obot_workspace_provider: s3 (it is {config.obot_workspace_provider}); "
                        "remove it or switch the workspace to s3")


@rule
def obot_storage_prerequisites(config, nodes):
    for pair, what in ((OBOT_S3_KEYS, "Obot backup S3 keys"), (AUDIT_S3_KEYS, "Obot audit-log S3 keys"),
                       (WORKSPACE_S3_KEYS, "Obot workspace S3 keys")):
        yield from set_together(config, pair, what)
    if not config.obot_enabled:
        return
    yield from credentials_need_rustfs(config, OBOT_S3_KEYS, "the Obot backup keys")
    yield from credentials_need_rustfs(config, AUDIT_S3_KEYS, "the Obot audit-log keys")
    if obot_backup_configured(config):
        yield from requires_true(config, "obot_s3_access_key", ("cnpg_barman_plugin_enabled",),
                                 "the Barman Cloud plugin ships the database backups")


@rule
def obot_flag_prerequisites(config, nodes):
    owner = {"obot_enabled": "it configures Obot"}
    yield from needs(config, "obot_keycloak_enabled", {**owner, "keycloak_enabled": "Keycloak is the identity provider"})
    yield from needs(config, "obot_monitoring_enabled", {**owner, "monitoring_enabled": MONITORING})
    yield from needs(config, "obot_tracing_enabled", {**owner, "tracing_enabled": TRACING})
    yield from needs(config, "obot_litellm_enabled", {**owner, "litellm_enabled": "LiteLLM is the model gateway"})
    if config.obot_keycloak_enabled:
        yield from requires_values(config, ("obot_keycloak_client_secret",), "obot_keycloak_enabled is true")


def quantity(value: str) -> float:
    """A CPU (`500m`, `2`) or memory (`512Mi`) quantity of the config's own spellings, as a number."""
    if value.endswith("m"):
        return int(value[:-1]) / 1000
    unit = _BINARY_UNITS.get(value[-2:])
    return int(value[:-2]) * unit if unit else int(value)


@rule
def obot_runtime_settings(config, nodes):
    if not config.obot_enabled:
        return
    # The Obot server has one set of AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in its
    # environment), read by both the s3 workspace and the audit-log store.
    if (config.obot_workspace_provider == "s3" and all_set(config, AUDIT_S3_KEYS)
            and (config.obot_workspace_s3_access_key, config.obot_workspace_s3_secret_key)
            != (config.obot_audit_s3_access_key, config.obot_audit_s3_secret_key)):
        yield ("obot_audit_s3_access_key", "must equal obot_workspace_s3_access_key/obot_workspace_s3_secret_key "
               "with the s3 workspace (Obot reads one pair of AWS credentials for both stores)")
    if workspace_on_rustfs(config) and config.rustfs_enabled is not True:
        yield "obot_s3_endpoint", "is RustFS's address, which requires rustfs_enabled: true (or name another S3 service)"
    for request, limit, largest in MCP_LIMIT_ORDER.values():
        values = [getattr(config, key) for key in (request, limit, largest)]
        if quantity(values[0]) > quantity(values[1]):
            yield request, f"{values[0]} is above {limit} ({values[1]}): {_REFUSED_LIMIT_RANGE}"
        if quantity(values[1]) > quantity(values[2]):
            yield limit, f"{values[1]} is above {largest} ({values[2]}): {_REFUSED_LIMIT_RANGE}"
