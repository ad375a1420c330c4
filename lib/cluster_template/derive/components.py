"""Derivations of the optional components (SEED.md "Derived Variables").

Each function is pure: it reads the validated `ClusterConfig` and the context built so far
(read-only), and returns the keys it sets or overrides. Every key listed here is present whether the
component is on or off (False / None when off), and every flag is a real `bool`.

The configuration rules (config/components/) already refuse a flag whose prerequisites are missing,
so most flags below could be copied as they are; they are still computed in full so a template that
tests a derived flag never sees a feature whose dependencies are absent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..config.base import is_set
from ..config.components.cnpg import BARMAN_PLUGIN_CHARTS
from ..config.components.dragonfly import DRAGONFLY_CONSUMERS
from ..config.components.langfuse import BACKUP_S3_KEYS, EVENTS_BUCKET, HEADLESS_KEYS, LANGFUSE_S3_KEYS
from ..config.components.litellm import LANGFUSE_KEYS, LITELLM_S3_KEYS, WEBHOOKS, enabled_providers
from ..config.components.obot import AUDIT_S3_KEYS, OBOT_S3_KEYS, workspace_on_rustfs
from ..config.components.oidc import oidc_configured
from ..config.components.proxmox import infrastructure_configured
from ..config.components.talos_backup import backup_endpoint_internal, talos_backup_configured
from .keycloak_realm import derive_keycloak_realm

if TYPE_CHECKING:
    from ..config.model import ClusterConfig

KEYCLOAK_INTERNAL_URL = "http://keycloak-service.identity.svc.cluster.local:8080"
# The embedded database (keycloak_db_mode: embedded) and its pg_dump: a PostgreSQL release Keycloak 26 supports.
KEYCLOAK_POSTGRES_IMAGE = "docker.io/library/postgres:17.6-alpine"
LANGFUSE_INTERNAL_URL = "http://langfuse-web.ai-system.svc.cluster.local:3000"
LANGFUSE_CLOUD_URL = "https://cloud.langfuse.com"
RUSTFS_S3_URL = "http://rustfs-svc.storage.svc.cluster.local:9000"

# The RustFS bucket of each backup, by the derived flag that turns that backup on.
BACKUP_BUCKETS = {
    "cnpg": ("cnpg_backup_enabled", "cnpg-backups"),
    "keycloak": ("keycloak_backup_enabled", "keycloak-backups"),
    "dragonfly": ("dragonfly_backup_enabled", "dragonfly-backups"),
    "litellm": ("litellm_backup_enabled", "litellm-backups"),
    "langfuse": ("langfuse_backup_enabled", "langfuse-postgres-backups"),
    "obot": ("obot_backup_enabled", "obot-postgres-backups"),
    "obot-audit": ("obot_audit_logs_enabled", "obot-audit-logs"),
}
LOKI_BUCKETS = ("loki-chunks", "loki-ruler", "loki-admin")
# The derived lists of the buckets applications store their data in on RustFS.
STORAGE_BUCKETS = ("langfuse_storage_buckets", "obot_storage_buckets")

VM_FIELDS = ("cores", "sockets", "memory", "disk_size")
BUILTIN_VM_DEFAULTS = {"cores": 4, "sockets": 1, "memory": 8192, "disk_size": 128}
BUILTIN_VM_ROLE_DEFAULTS = {
    "controller": {"cores": 4, "sockets": 1, "memory": 8192, "disk_size": 64},
    "worker": {"cores": 8, "sockets": 1, "memory": 16384, "disk_size": 256},
}
VM_STARTUP_DELAY = 15
VM_SHUTDOWN_DELAY = 60
VM_STARTUP_ORDER_OFFSET = 3

Context = Mapping[str, object]
Deriver = Callable[["ClusterConfig", Context], dict[str, object]]


def _all(*conditions: object) -> bool:
    """True when every condition holds; a plain bool, never the last operand."""
    return all(bool(condition) for condition in conditions)


def _keys_set(config: ClusterConfig, keys: tuple[str, ...]) -> bool:
    return all(is_set(getattr(config, key)) for key in keys)


def _hostname(config: ClusterConfig, subdomain: str) -> str:
    return f"{subdomain}.{config.cloudflare_domain}"


def keycloak_endpoints(config: ClusterConfig) -> dict[str, str | None]:
    """Keycloak's public hostname and OIDC URLs; all None when Keycloak is off."""
    if not config.keycloak_enabled:
        return dict.fromkeys(
            ("keycloak_hostname", "keycloak_issuer_url", "keycloak_internal_issuer_url", "keycloak_jwks_uri"))
    hostname = _hostname(config, config.keycloak_subdomain)
    issuer = f"https://{hostname}/realms/{config.keycloak_realm}"
    return {
        "keycloak_hostname": hostname,
        "keycloak_issuer_url": issuer,
        # Pods reach Keycloak directly for back-channel calls; tokens still carry the public issuer.
        "keycloak_internal_issuer_url": f"{KEYCLOAK_INTERNAL_URL}/realms/{config.keycloak_realm}",
        "keycloak_jwks_uri": f"{issuer}/protocol/openid-connect/certs",
    }


def derive_talos_backup(config: ClusterConfig, context: Context) -> dict[str, object]:
    return {
        "talos_backup_enabled": talos_backup_configured(config),
        "backup_s3_internal": backup_endpoint_internal(config),
        "backup_age_public_key": config.backup_age_public_key or context.get("age_public_key"),
    }


def derive_observability(config: ClusterConfig, context: Context) -> dict[str, object]:
    monitoring = config.monitoring_enabled
    return {
        "hubble_ui_enabled": _all(config.hubble_enabled, config.hubble_ui_enabled),
        "grafana_hostname": _hostname(config, config.grafana_subdomain) if monitoring else None,
        "loki_deployment_mode": "SimpleScalable" if config.rustfs_enabled else "SingleBinary",
        "loki_monitoring_enabled": _all(config.loki_enabled, monitoring, config.loki_monitoring_enabled),
        "grafana_oidc_enabled": _all(monitoring, config.keycloak_enabled, config.grafana_oidc_enabled,
                                     is_set(config.grafana_oidc_client_secret)),
    }


def derive_rustfs(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.rustfs_enabled)
    return {
        "rustfs_enabled": enabled,
        "rustfs_hostname": _hostname(config, config.rustfs_subdomain) if enabled else None,
        "rustfs_s3_url": RUSTFS_S3_URL if enabled else None,
        "rustfs_storage_class": config.rustfs_storage_class or config.storage_class,
        "rustfs_monitoring_enabled": _all(enabled, config.monitoring_enabled, config.rustfs_monitoring_enabled),
    }


def derive_cnpg(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.cnpg_enabled)
    return {
        "cnpg_enabled": enabled,
        "cnpg_barman_plugin_enabled": _all(enabled, config.cnpg_barman_plugin_enabled),
        "cnpg_pgvector_enabled": _all(enabled, config.cnpg_pgvector_enabled),
        "cnpg_backup_enabled": _all(enabled, config.rustfs_enabled, config.cnpg_backup_enabled,
                                    config.cnpg_s3_access_key, config.cnpg_s3_secret_key),
        "cnpg_barman_plugin_chart_version": BARMAN_PLUGIN_CHARTS.get(config.cnpg_barman_plugin_version),
        "cnpg_storage_class": config.cnpg_storage_class or config.storage_class,
    }


def derive_keycloak(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.keycloak_enabled)
    derived: dict[str, object] = {"keycloak_enabled": enabled, **keycloak_endpoints(config)}
    derived["keycloak_postgres_image"] = KEYCLOAK_POSTGRES_IMAGE
    derived["keycloak_backup_enabled"] = _all(
        enabled, config.rustfs_enabled, config.keycloak_s3_access_key, config.keycloak_s3_secret_key)
    derived["keycloak_tracing_enabled"] = _all(enabled, config.tracing_enabled, config.keycloak_tracing_enabled)
    derived["keycloak_monitoring_enabled"] = _all(enabled, config.monitoring_enabled, config.keycloak_monitoring_enabled)
    for provider in ("google", "github", "microsoft"):
        derived[f"{provider}_idp_enabled"] = _all(
            enabled, getattr(config, f"{provider}_idp_enabled"),
            getattr(config, f"{provider}_client_id"), getattr(config, f"{provider}_client_secret"))
    return derived


def derive_oidc(config: ClusterConfig, context: Context) -> dict[str, object]:
    """JWT endpoints fall back to Keycloak's when the user set none (the seed's auto-fill)."""
    keycloak = keycloak_endpoints(config)
    if oidc_configured(config):
        issuer, jwks = config.oidc_issuer_url, config.oidc_jwks_uri
    else:
        issuer, jwks = keycloak["keycloak_issuer_url"], keycloak["keycloak_jwks_uri"]
    enabled = _all(issuer, jwks)
    provider = config.oidc_provider_name or ("keycloak" if config.keycloak_enabled else "oidc" if enabled else None)
    sso = _all(config.oidc_sso_enabled, issuer, config.oidc_client_id, config.oidc_client_secret)
    return {
        "oidc_issuer_url": issuer,
        "oidc_jwks_uri": jwks,
        "oidc_provider_name": provider,
        "oidc_enabled": enabled,
        "oidc_sso_enabled": sso,
        # With Keycloak, the gateway's client is created in the realm with the configured secret.
        "keycloak_bootstrap_oidc_client": _all(config.keycloak_enabled, sso),
    }


def derive_dragonfly(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.dragonfly_enabled)
    return {
        "dragonfly_enabled": enabled,
        "dragonfly_backup_enabled": _all(enabled, config.rustfs_enabled, config.dragonfly_backup_enabled,
                                         config.dragonfly_s3_access_key, config.dragonfly_s3_secret_key),
        "dragonfly_monitoring_enabled": _all(enabled, config.monitoring_enabled, config.dragonfly_monitoring_enabled),
        "dragonfly_acl_enabled": _all(enabled, config.dragonfly_acl_enabled),
        **dragonfly_consumers(config, enabled),
    }


def dragonfly_consumers(config: ClusterConfig, enabled: bool) -> dict[str, object]:
    """The ACL users (with ACL on) and the namespaces allowed to connect, from DRAGONFLY_CONSUMERS."""
    active = [consumer for consumer in DRAGONFLY_CONSUMERS if enabled and (
        getattr(config, consumer.enabled_key) if consumer.enabled_key else is_set(getattr(config, consumer.password_key)))]
    users = [{"user": consumer.user, "password": getattr(config, consumer.password_key), "rules": consumer.rules}
             for consumer in active
             if config.dragonfly_acl_enabled and is_set(getattr(config, consumer.password_key))]
    return {
        "dragonfly_acl_users": users,
        "dragonfly_client_namespaces": sorted({consumer.namespace for consumer in active}),
    }


def derive_litellm(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.litellm_enabled)
    default_host = LANGFUSE_INTERNAL_URL if config.langfuse_enabled else LANGFUSE_CLOUD_URL
    providers = enabled_providers(config) if enabled else []
    alerting = _all(enabled, config.litellm_alerting_enabled, any(is_set(getattr(config, key)) for key in WEBHOOKS))
    # LiteLLM posts to one Slack-style webhook; Discord offers one at <webhook>/slack.
    webhook = None
    if alerting:
        webhook = config.litellm_slack_webhook_url or f"{config.litellm_discord_webhook_url}/slack"
    langfuse_host = config.litellm_langfuse_host or default_host
    langfuse = _all(enabled, config.litellm_langfuse_enabled, _keys_set(config, LANGFUSE_KEYS))
    egress = {(provider["host"], 443) for provider in providers}
    for url, wanted in ((webhook, alerting), (langfuse_host, langfuse and langfuse_host != LANGFUSE_INTERNAL_URL)):
        if wanted:
            parts = urlsplit(url)
            egress.add((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))
    return {
        "litellm_enabled": enabled,
        "litellm_hostname": _hostname(config, config.litellm_subdomain) if enabled else None,
        "litellm_oidc_enabled": _all(enabled, config.keycloak_enabled, config.litellm_oidc_enabled,
                                     config.litellm_oidc_client_secret),
        "litellm_backup_enabled": _all(enabled, config.rustfs_enabled, _keys_set(config, LITELLM_S3_KEYS)),
        "litellm_monitoring_enabled": _all(enabled, config.monitoring_enabled, config.litellm_monitoring_enabled),
        "litellm_tracing_enabled": _all(enabled, config.tracing_enabled, config.litellm_tracing_enabled),
        "litellm_langfuse_enabled": langfuse,
        "litellm_langfuse_host": langfuse_host,
        "litellm_alerting_enabled": alerting,
        "litellm_alert_webhook": webhook,
        "litellm_providers": providers,
        # One environment variable per key, though two endpoints may share a key.
        "litellm_provider_keys": {provider["env"]: provider["api_key"] for provider in providers},
        "litellm_models": [model for provider in providers for model in provider["models"]],
        "litellm_langfuse_internal": langfuse_host == LANGFUSE_INTERNAL_URL,
        # Every host outside the cluster LiteLLM calls, as (name, port): the policy opens only these.
        "litellm_egress_hosts": sorted(egress),
        # Prisma reads one URL; the credentials are percent-encoded so any password character works.
        "litellm_database_url": (
            f"postgresql://{quote(config.litellm_db_user, safe='')}:{quote(config.litellm_db_password or '', safe='')}"
            f"@litellm-postgres-rw.ai-system.svc:5432/{quote(config.litellm_db_name, safe='')}") if enabled else None,
    }


def _smtp_endpoint(url: str | None) -> tuple[str, int] | None:
    if not url:
        return None
    parts = urlsplit(url)
    return parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 587)


def derive_langfuse(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.langfuse_enabled)
    hostname = _hostname(config, config.langfuse_subdomain) if enabled else None
    # The backup bucket has its own keys, or reuses the storage keys (as the seed's templates do).
    if _keys_set(config, BACKUP_S3_KEYS):
        backup_access, backup_secret = config.langfuse_backup_s3_access_key, config.langfuse_backup_s3_secret_key
    elif _keys_set(config, LANGFUSE_S3_KEYS):
        backup_access, backup_secret = config.langfuse_s3_access_key, config.langfuse_s3_secret_key
    else:
        backup_access = backup_secret = None
    headless = _keys_set(config, HEADLESS_KEYS)
    storage = _all(enabled, config.rustfs_enabled, _keys_set(config, LANGFUSE_S3_KEYS))
    return {
        "langfuse_enabled": enabled,
        "langfuse_hostname": hostname,
        "langfuse_url": f"https://{hostname}" if hostname else None,
        "langfuse_sso_enabled": _all(enabled, config.keycloak_enabled, config.langfuse_sso_enabled,
                                     config.langfuse_keycloak_client_secret),
        "langfuse_backup_s3_access_key": backup_access,
        "langfuse_backup_s3_secret_key": backup_secret,
        "langfuse_backup_enabled": _all(enabled, config.rustfs_enabled, config.langfuse_backup_enabled,
                                        backup_access, backup_secret),
        "langfuse_monitoring_enabled": _all(enabled, config.monitoring_enabled, config.langfuse_monitoring_enabled),
        "langfuse_tracing_enabled": _all(enabled, config.tracing_enabled, config.langfuse_tracing_enabled),
        # The buckets rustfs-setup creates for Langfuse's own storage.
        "langfuse_storage_buckets": [
            EVENTS_BUCKET, config.langfuse_media_bucket,
            *([config.langfuse_export_bucket] if config.langfuse_batch_export_enabled else [])] if storage else [],
        # The mail server Langfuse sends through (the URL itself is a credential; its host is not).
        "langfuse_smtp_endpoint": _smtp_endpoint(config.langfuse_smtp_url) if enabled else None,
        # Dragonfly as the langfuse ACL user, or as the default user when ACLs are off.
        "langfuse_redis_user": "langfuse" if config.dragonfly_acl_enabled else "default",
        "langfuse_redis_password": (config.dragonfly_langfuse_password if config.dragonfly_acl_enabled
                                    else config.dragonfly_password) if enabled else None,
        "langfuse_headless_init_enabled": _all(enabled, headless),
        "langfuse_init_project_enabled": _all(enabled, headless, config.langfuse_init_project_id),
        "langfuse_init_org_name": config.langfuse_init_org_name or config.cluster_name,
        "langfuse_email_from": config.langfuse_email_from or f"noreply@{config.cloudflare_domain}",
        "langfuse_default_org_id": config.langfuse_default_org_id or config.langfuse_init_org_id,
        "langfuse_default_project_id": config.langfuse_default_project_id or config.langfuse_init_project_id,
    }


def derive_obot(config: ClusterConfig, context: Context) -> dict[str, object]:
    enabled = bool(config.obot_enabled)
    keycloak_sso = _all(enabled, config.keycloak_enabled, config.obot_keycloak_enabled,
                        config.obot_keycloak_client_secret)
    keycloak_host = keycloak_endpoints(config)["keycloak_hostname"]
    # Unset means "use LiteLLM whenever it is deployed" (SEED: default true when litellm_enabled).
    wants_litellm = True if config.obot_litellm_enabled is None else config.obot_litellm_enabled
    monitoring = _all(enabled, config.monitoring_enabled, config.obot_monitoring_enabled)
    return {
        "obot_enabled": enabled,
        "obot_hostname": _hostname(config, config.obot_subdomain) if enabled else None,
        "obot_keycloak_enabled": keycloak_sso,
        # Obot talks to Keycloak through its public URL, so the issuer matches the one in the tokens.
        "obot_keycloak_base_url": f"https://{keycloak_host}" if keycloak_sso else None,
        "obot_keycloak_issuer_url": f"https://{keycloak_host}/realms/{config.keycloak_realm}" if keycloak_sso else None,
        "obot_keycloak_realm": config.keycloak_realm if keycloak_sso else None,
        "obot_backup_enabled": _all(enabled, config.rustfs_enabled, _keys_set(config, OBOT_S3_KEYS)),
        "obot_audit_logs_enabled": _all(enabled, config.rustfs_enabled, _keys_set(config, AUDIT_S3_KEYS)),
        "obot_storage_buckets": [config.obot_s3_bucket] if _all(enabled, config.rustfs_enabled,
                                                                workspace_on_rustfs(config)) else [],
        "obot_monitoring_enabled": monitoring,
        "obot_tracing_enabled": _all(enabled, config.tracing_enabled, config.obot_tracing_enabled),
        "obot_litellm_enabled": _all(enabled, config.litellm_enabled, wants_litellm),
        "obot_keycloak_settings": _obot_keycloak_settings(config, f"https://{keycloak_host}") if keycloak_sso else None,
        "obot_database_dsn": _obot_dsn(config) if enabled else None,
        "obot_metrics_token": _obot_metrics_token(config) if monitoring else None,
    }


def _obot_keycloak_settings(config: ClusterConfig, base_url: str) -> dict[str, str]:
    """What Obot's Keycloak auth provider is configured with, but its client secret. The provider
    appends /realms/<realm> to the base URL itself; Obot adds the cookie secret and drops empty
    values (no group or role restriction)."""
    return {
        "OBOT_KEYCLOAK_AUTH_PROVIDER_URL": base_url,
        "OBOT_KEYCLOAK_AUTH_PROVIDER_REALM": config.keycloak_realm,
        "OBOT_KEYCLOAK_AUTH_PROVIDER_CLIENT_ID": config.obot_keycloak_client_id,
        "OBOT_AUTH_PROVIDER_EMAIL_DOMAINS": config.obot_allowed_email_domains,
        "OBOT_KEYCLOAK_AUTH_PROVIDER_ALLOWED_GROUPS": config.obot_keycloak_allowed_groups or "",
        "OBOT_KEYCLOAK_AUTH_PROVIDER_ALLOWED_ROLES": config.obot_keycloak_allowed_roles or "",
    }


def _obot_dsn(config: ClusterConfig) -> str:
    """Obot's database URL (user, password and database have URL-safe patterns). Only a postgres://
    DSN makes Obot hand the database to its auth provider for sessions (too large for a cookie with
    Keycloak's group and role claims)."""
    return (f"postgres://{config.obot_postgres_user}:{config.obot_db_password}"
            f"@obot-postgres-rw.ai-system.svc.cluster.local:5432/{config.obot_postgres_db}?sslmode=require")


def _obot_metrics_token(config: ClusterConfig) -> str:
    """The bearer token Prometheus scrapes Obot's metrics with (with sign-in on, /debug/metrics answers
    only to it). Derived from the encryption key, so it needs no key of its own."""
    return hmac.new(str(config.obot_encryption_key).encode(), b"obot-metrics", hashlib.sha256).hexdigest()


def _database(config: ClusterConfig, context: Context, name: str, namespace: str, database: str, owner: str,
              password: str | None, instances: int, storage: str, *, pgvector: bool,
              s3_keys: tuple[object, object]) -> dict[str, object]:
    """One entry of cnpg_databases: what _macros/postgres.j2 needs to render an app's database.

    The app's own backup (its keys, its bucket) comes first; without it, cnpg_backup_enabled backs
    the database up to cnpg-backups with the cnpg_s3_* keys."""
    backup_flag, bucket = BACKUP_BUCKETS[name]
    if not context.get(backup_flag) and context.get("cnpg_backup_enabled"):
        bucket, s3_keys = BACKUP_BUCKETS["cnpg"][1], (config.cnpg_s3_access_key, config.cnpg_s3_secret_key)
    return {
        "name": name, "namespace": namespace, "database": database, "owner": owner, "password": password,
        "instances": instances, "storage": storage, "pgvector": pgvector,
        "backup": _all(context.get(backup_flag) or context.get("cnpg_backup_enabled")),
        "bucket": bucket, "s3_access_key": s3_keys[0], "s3_secret_key": s3_keys[1],
    }


def derive_cnpg_databases(config: ClusterConfig, context: Context) -> dict[str, object]:
    """The CloudNativePG database of every enabled app that keeps its data in one, by app name.
    Runs after the components, whose backup flags it reads."""
    databases: dict[str, dict[str, object]] = {}
    if not config.cnpg_enabled:
        return {"cnpg_databases": databases}
    c = config
    if c.keycloak_enabled and c.keycloak_db_mode == "cnpg":
        databases["keycloak"] = _database(
            c, context, "keycloak", "identity", c.keycloak_db_name, c.keycloak_db_user, c.keycloak_db_password,
            c.keycloak_db_instances, c.keycloak_storage_size, pgvector=False,
            s3_keys=(c.keycloak_s3_access_key, c.keycloak_s3_secret_key))
    if c.litellm_enabled:
        databases["litellm"] = _database(
            c, context, "litellm", "ai-system", c.litellm_db_name, c.litellm_db_user, c.litellm_db_password,
            c.litellm_db_instances, c.litellm_storage_size, pgvector=True,
            s3_keys=(c.litellm_s3_access_key, c.litellm_s3_secret_key))
    if c.langfuse_enabled:
        databases["langfuse"] = _database(
            c, context, "langfuse", "ai-system", "langfuse", "langfuse", c.langfuse_postgres_password,
            c.langfuse_postgres_instances, c.langfuse_postgres_storage, pgvector=False,
            s3_keys=(context.get("langfuse_backup_s3_access_key"), context.get("langfuse_backup_s3_secret_key")))
    if c.obot_enabled:
        databases["obot"] = _database(
            c, context, "obot", "ai-system", c.obot_postgres_db, c.obot_postgres_user, c.obot_db_password,
            c.obot_postgresql_replicas, c.obot_postgresql_storage_size, pgvector=True,
            s3_keys=(c.obot_s3_access_key, c.obot_s3_secret_key))
    return {"cnpg_databases": databases}


def derive_rustfs_buckets(config: ClusterConfig, context: Context) -> dict[str, object]:
    """Every bucket the rustfs-setup job creates: Loki's, an in-cluster Talos backup's, the
    bucket of each enabled backup, and the applications' storage buckets. Runs after the
    components, whose derived flags it reads."""
    buckets: list[str] = []
    if context.get("rustfs_enabled"):
        buckets += LOKI_BUCKETS if config.loki_enabled else ()
        if context.get("talos_backup_enabled") and context.get("backup_s3_internal"):
            buckets.append(config.backup_s3_bucket)
        buckets += [bucket for flag, bucket in BACKUP_BUCKETS.values() if context.get(flag)]
        for key in STORAGE_BUCKETS:
            buckets += context.get(key) or []
    return {
        "rustfs_buckets": list(dict.fromkeys(buckets)),
        "backup_buckets": {name: bucket for name, (_, bucket) in BACKUP_BUCKETS.items()},
    }


def vm_role_defaults(config: ClusterConfig, role: str) -> dict[str, int]:
    """VM size of a role: the role's defaults, else the global defaults, else the built-in role size.

    Unlike the seed (whose built-in role sizes always overwrote the user's global defaults), a value
    the user puts in proxmox_vm_defaults applies to both roles unless the role default sets it.
    """
    role_user = getattr(config, f"proxmox_vm_{role}_defaults")
    global_user = config.proxmox_vm_defaults
    resolved = {}
    for field in VM_FIELDS:
        for value in (getattr(role_user, field), getattr(global_user, field)):
            if value is not None:
                resolved[field] = value
                break
        else:
            resolved[field] = BUILTIN_VM_ROLE_DEFAULTS[role][field]
    return resolved


def proxmox_vms(config: ClusterConfig, nodes: list[Mapping[str, Any]]) -> list[dict[str, object]]:
    """One entry per node: its VM size (node value, else its role's defaults) and start-up settings."""
    roles = {role: vm_role_defaults(config, role) for role in BUILTIN_VM_ROLE_DEFAULTS}
    vms = []
    for position, node in enumerate(nodes, start=1):
        role = "controller" if node["controller"] else "worker"
        entry: dict[str, object] = {
            "name": node["name"],
            "address": node["address"],
            "mac_addr": node["mac_addr"],
            "controller": bool(node["controller"]),
            "role": role,
            "vm_id": node.get("vm_id"),
        }
        for field in VM_FIELDS:
            value = node.get(f"vm_{field}")
            entry[field] = value if value is not None else roles[role][field]
        entry["startup_order"] = _or(node.get("vm_startup_order"), position + VM_STARTUP_ORDER_OFFSET)
        entry["startup_delay"] = _or(node.get("vm_startup_delay"), VM_STARTUP_DELAY)
        entry["shutdown_delay"] = _or(node.get("vm_shutdown_delay"), VM_SHUTDOWN_DELAY)
        vms.append(entry)
    return vms


def _or(value: object, default: object) -> object:
    # 0 is a valid delay, so only None falls back.
    return default if value is None else value


def derive_proxmox(config: ClusterConfig, context: Context) -> dict[str, object]:
    global_user = config.proxmox_vm_defaults
    merged_global = {field: _or(getattr(global_user, field), BUILTIN_VM_DEFAULTS[field]) for field in VM_FIELDS}
    nodes = list(context.get("nodes") or [])
    return {
        "infrastructure_enabled": infrastructure_configured(config),
        "proxmox_vm_defaults": merged_global,
        "proxmox_vm_controller_defaults": vm_role_defaults(config, "controller"),
        "proxmox_vm_worker_defaults": vm_role_defaults(config, "worker"),
        "proxmox_vms": proxmox_vms(config, nodes),
    }


DERIVERS: list[Deriver] = [
    derive_talos_backup,
    derive_observability,
    derive_rustfs,
    derive_cnpg,
    derive_keycloak,
    derive_oidc,
    derive_dragonfly,
    derive_litellm,
    derive_langfuse,
    derive_obot,
    derive_keycloak_realm,
    derive_proxmox,
    derive_cnpg_databases,
    derive_rustfs_buckets,
]
