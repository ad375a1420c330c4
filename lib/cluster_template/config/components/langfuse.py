"""Langfuse: LLM tracing and analytics, with its PostgreSQL (CNPG), ClickHouse, Dragonfly and RustFS
storage, backups, Keycloak SSO, headless initialization of the first organization, user and
project, and default access for SSO users."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import Subdomain, secret
from ._shared import (
    BUCKET, EMAIL_PATTERN, MONITORING, TRACING, Email, Ratio, Slug, StorageSize, all_set, any_set, needs, requires_true,
    requires_values,
)

LANGFUSE_S3_KEYS = ("langfuse_s3_access_key", "langfuse_s3_secret_key")
BACKUP_S3_KEYS = ("langfuse_backup_s3_access_key", "langfuse_backup_s3_secret_key")
HEADLESS_KEYS = ("langfuse_init_org_id", "langfuse_init_user_email", "langfuse_init_user_password")
PROJECT_KEYS = ("langfuse_init_project_public_key", "langfuse_init_project_secret_key")

# The events bucket has no key of its own in the seed; its name is fixed.
EVENTS_BUCKET = "langfuse-events"

OrgRole = Literal["OWNER", "ADMIN", "MEMBER", "VIEWER", "NONE"]
ProjectRole = Literal["OWNER", "ADMIN", "MEMBER", "VIEWER"]


class LangfuseSettings(Settings):
    langfuse_enabled: bool = Field(False, description="Deploy Langfuse (needs CNPG, Dragonfly and RustFS).")
    langfuse_subdomain: Subdomain = Field("langfuse", description="Langfuse is served at <langfuse_subdomain>.<cloudflare_domain>.")
    langfuse_chart_version: str = Field(
        "1.5.41", pattern=r"^1\.[0-9]+\.[0-9]+$",
        description="Langfuse Helm chart version. Only 1.x: the templates write its values (Bitnami ClickHouse); "
                    "2.x moved ClickHouse to an operator.")
    langfuse_nextauth_secret: str | None = secret(
        None, min_length=32, description="Session signing secret (openssl rand -base64 32).")
    langfuse_salt: str | None = secret(None, min_length=32, description="API key hashing salt (openssl rand -base64 32).")
    langfuse_encryption_key: str | None = secret(
        None, pattern=r"^[0-9a-f]{64}$", description="256-bit data encryption key, 64 hex digits (openssl rand -hex 32).")
    langfuse_web_replicas: int = Field(1, ge=1, le=10, description="Number of Langfuse web pods.")
    langfuse_worker_replicas: int = Field(1, ge=1, le=10, description="Number of Langfuse worker pods.")
    langfuse_log_level: Literal["trace", "debug", "info", "warn", "error", "fatal"] = Field(
        "info", description="Langfuse log level.")
    langfuse_log_format: Literal["text", "json"] = Field("text", description="Langfuse log format.")
    langfuse_trace_sampling_ratio: Ratio = Field(
        0.1, description="Share of Langfuse's own requests traced, 0.0 to 1.0 (with langfuse_tracing_enabled).")

    # -- PostgreSQL and ClickHouse ----------------------------------------------------------
    langfuse_postgres_password: str | None = secret(None, min_length=1, description="PostgreSQL password.")
    langfuse_postgres_instances: int = Field(1, ge=1, le=5, description="PostgreSQL instances.")
    langfuse_postgres_storage: StorageSize = Field("10Gi", description="PostgreSQL volume size.")
    langfuse_clickhouse_password: str | None = secret(None, min_length=1, description="ClickHouse password.")
    langfuse_clickhouse_storage: StorageSize = Field("20Gi", description="ClickHouse volume size.")
    langfuse_clickhouse_replicas: int = Field(1, ge=1, le=5, description="ClickHouse replicas.")
    langfuse_clickhouse_cluster_enabled: bool = Field(False, description="Run ClickHouse in cluster mode (multi-node).")

    # -- S3 storage (RustFS) ----------------------------------------------------------------
    langfuse_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for events, media and exports (required with langfuse_enabled).")
    langfuse_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with langfuse_s3_access_key.")
    langfuse_s3_concurrent_writes: int = Field(50, ge=1, le=500, description="S3 write connection pool size.")
    langfuse_s3_concurrent_reads: int = Field(50, ge=1, le=500, description="S3 read connection pool size.")
    langfuse_media_bucket: str = Field("langfuse-media", pattern=BUCKET, description="Bucket for media uploads.")
    langfuse_export_bucket: str = Field("langfuse-exports", pattern=BUCKET, description="Bucket for batch exports.")
    langfuse_media_max_size: int = Field(
        1_000_000_000, ge=1, le=10_000_000_000, description="Largest media upload, in bytes (default 1 GB).")
    langfuse_media_download_url_expiry: int = Field(
        3600, ge=60, le=604800, description="Seconds a media download link (S3 presigned URL) stays valid.")
    langfuse_batch_export_enabled: bool = Field(True, description="Enable batch exports.")

    # -- PostgreSQL backup ------------------------------------------------------------------
    langfuse_backup_enabled: bool = Field(
        False, description="Back the Langfuse database up to RustFS (needs RustFS and the Barman plugin).")
    langfuse_backup_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for the backup bucket. Default: langfuse_s3_access_key.")
    langfuse_backup_s3_secret_key: str | None = secret(
        None, min_length=1, description="Secret key paired with langfuse_backup_s3_access_key.")

    # -- SSO and authentication -------------------------------------------------------------
    langfuse_sso_enabled: bool = Field(False, description="Sign in to Langfuse through Keycloak.")
    langfuse_keycloak_client_secret: str | None = secret(
        None, min_length=1, description="Client secret of the langfuse client in Keycloak.")
    langfuse_disable_password_auth: bool = Field(
        False, description="Allow SSO sign-in only (needs langfuse_sso_enabled).")
    langfuse_sso_domain_enforcement: str | None = Field(
        None, pattern=r"^[a-z0-9.-]+(,[a-z0-9.-]+)*$",
        description="Comma-separated e-mail domains that must sign in with SSO.")
    langfuse_session_max_age: int = Field(
        43200, ge=5, le=525600,
        description="Session lifetime in minutes (default 43200 = 30 days). Langfuse's AUTH_SESSION_MAX_AGE counts "
                    "minutes; SEED.md said seconds, so a seed value of 2592000 is refused rather than read as 5 years.")

    # -- caching ----------------------------------------------------------------------------
    langfuse_cache_api_key_enabled: bool = Field(True, description="Cache API keys in Dragonfly.")
    langfuse_cache_api_key_ttl: int = Field(300, ge=1, le=86400, description="API key cache lifetime in seconds.")
    langfuse_cache_prompt_enabled: bool = Field(True, description="Cache prompts in Dragonfly.")
    langfuse_cache_prompt_ttl: int = Field(300, ge=1, le=86400, description="Prompt cache lifetime in seconds.")

    # -- dashboards and tracing -------------------------------------------------------------
    langfuse_monitoring_enabled: bool = Field(
        False, description="Deploy the Langfuse ServiceMonitor and Grafana dashboard (needs monitoring_enabled).")
    langfuse_tracing_enabled: bool = Field(
        False, description="Export Langfuse's own traces to Tempo over OTLP (needs tracing_enabled).")

    # -- e-mail -----------------------------------------------------------------------------
    langfuse_smtp_url: str | None = secret(
        None, pattern=r"^smtps?://\S+$", description="SMTP server as smtp://user:pass@host:port.")
    langfuse_email_from: Email | None = Field(None, description="Sender address. Default: noreply@<cloudflare_domain>.")

    # -- headless initialization ------------------------------------------------------------
    langfuse_init_org_id: Slug | None = Field(
        None, description="ID of the organization created on first start; with the user e-mail and password.")
    langfuse_init_org_name: str | None = Field(
        None, min_length=1, description="Display name of that organization. Default: cluster_name.")
    langfuse_init_user_email: str | None = secret(
        None, pattern=EMAIL_PATTERN, description="E-mail of the first administrator.")
    langfuse_init_user_password: str | None = secret(
        None, min_length=16, description="Password of the first administrator (16+ characters).")
    langfuse_init_user_name: str = Field("Admin", min_length=1, description="Display name of the first administrator.")
    langfuse_disable_signup: bool = Field(False, description="Refuse new sign-ups.")
    langfuse_init_project_id: Slug | None = Field(
        None, description="ID of the project created on first start (needs headless initialization).")
    langfuse_init_project_name: str = Field("Default Project", min_length=1, description="Display name of that project.")
    langfuse_init_project_retention: int | None = Field(
        None, ge=1, le=3650, description="Days that project keeps data. Unset: forever.")
    langfuse_init_project_public_key: str | None = secret(
        None, pattern=r"^(lf_pk_|pk-lf-)[A-Za-z0-9_-]+$", description="Public API key of that project (lf_pk_…).")
    langfuse_init_project_secret_key: str | None = secret(
        None, pattern=r"^(lf_sk_|sk-lf-)[A-Za-z0-9_-]+$", description="Secret API key of that project (lf_sk_…).")

    # -- default access for new SSO users ---------------------------------------------------
    langfuse_default_org_id: Slug | None = Field(
        None, description="Organization new SSO users join. Default: langfuse_init_org_id.")
    langfuse_default_org_role: OrgRole | None = Field(None, description="Role of new SSO users in that organization.")
    langfuse_default_project_id: Slug | None = Field(
        None, description="Project new SSO users join. Default: langfuse_init_project_id.")
    langfuse_default_project_role: ProjectRole | None = Field(None, description="Role of new SSO users in that project.")


@rule
def langfuse_requirements(config, nodes):
    if not config.langfuse_enabled:
        return
    yield from requires_true(config, "langfuse_enabled", ("cnpg_enabled",), "Langfuse stores its data in PostgreSQL")
    yield from requires_true(config, "langfuse_enabled", ("dragonfly_enabled",), "Langfuse queues and caches in Dragonfly")
    yield from requires_values(
        config, ("langfuse_nextauth_secret", "langfuse_salt", "langfuse_encryption_key",
                 "langfuse_postgres_password", "langfuse_clickhouse_password"),
        "langfuse_enabled is true")
    if config.dragonfly_acl_enabled:
        yield from requires_values(config, ("dragonfly_langfuse_password",),
                                   "langfuse_enabled and dragonfly_acl_enabled are true")
    yield from requires_true(config, "langfuse_enabled", ("rustfs_enabled",),
                             "Langfuse keeps its events, media and exports in S3 buckets on RustFS")
    yield from requires_values(config, LANGFUSE_S3_KEYS, "langfuse_enabled is true (events and media go to RustFS)")
    if config.dragonfly_cache_mode:
        yield "langfuse_enabled", ("requires dragonfly_cache_mode: false (Langfuse queues its work in Dragonfly; "
                                   "evicted keys would be lost jobs)")
    if config.langfuse_clickhouse_replicas > 1 and not config.langfuse_clickhouse_cluster_enabled:
        yield "langfuse_clickhouse_replicas", ("requires langfuse_clickhouse_cluster_enabled: true (ClickHouse "
                                               "replicas share data only in cluster mode)")


@rule
def langfuse_backup_prerequisites(config, nodes):
    yield from set_together(config, LANGFUSE_S3_KEYS, "Langfuse S3 keys")
    yield from set_together(config, BACKUP_S3_KEYS, "Langfuse backup S3 keys")
    yield from needs(config, "langfuse_backup_enabled", {
        "langfuse_enabled": "it backs up Langfuse",
        "rustfs_enabled": "backups are written to RustFS",
        "cnpg_barman_plugin_enabled": "the Barman Cloud plugin ships the backups",
    })
    if config.langfuse_backup_enabled and not any_set(config, BACKUP_S3_KEYS) and not all_set(config, LANGFUSE_S3_KEYS):
        yield from requires_values(config, BACKUP_S3_KEYS,
                                   "langfuse_backup_enabled is true (unless langfuse_s3_* keys are set; the backup then reuses them)")


@rule
def langfuse_flag_prerequisites(config, nodes):
    owner = {"langfuse_enabled": "it configures Langfuse"}
    yield from needs(config, "langfuse_sso_enabled", {**owner, "keycloak_enabled": "Keycloak is the identity provider"})
    yield from needs(config, "langfuse_monitoring_enabled", {**owner, "monitoring_enabled": MONITORING})
    yield from needs(config, "langfuse_tracing_enabled", {**owner, "tracing_enabled": TRACING})
    yield from needs(config, "langfuse_disable_password_auth", {
        "langfuse_sso_enabled": "without SSO nobody could sign in"})
    if config.langfuse_sso_enabled:
        yield from requires_values(config, ("langfuse_keycloak_client_secret",), "langfuse_sso_enabled is true")


@rule
def langfuse_initialization_complete(config, nodes):
    yield from set_together(config, HEADLESS_KEYS, "Langfuse headless initialization")
    yield from set_together(config, PROJECT_KEYS, "Langfuse initial project API keys")
    if any_set(config, PROJECT_KEYS):
        yield from requires_values(config, ("langfuse_init_project_id",), "the initial project API keys are set")
    if is_set(config.langfuse_init_project_id) and not any_set(config, HEADLESS_KEYS):
        yield from requires_values(config, HEADLESS_KEYS, "langfuse_init_project_id is set (a project needs an organization)")
    if config.langfuse_default_org_role and not (config.langfuse_default_org_id or config.langfuse_init_org_id):
        yield "langfuse_default_org_role", "requires langfuse_default_org_id or langfuse_init_org_id"
    if config.langfuse_default_project_role and not (config.langfuse_default_project_id or config.langfuse_init_project_id):
        yield "langfuse_default_project_role", "requires langfuse_default_project_id or langfuse_init_project_id"
