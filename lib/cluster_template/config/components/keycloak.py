"""Keycloak: the OIDC identity provider (official operator), its database and backups, tracing and
dashboards, realm management with keycloak-config-cli, and social identity providers with role
mappers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import Cron, Subdomain, secret
from ._shared import (
    MONITORING, TRACING, Email, Ratio, SemVer, StorageSize, credentials_need_rustfs, needs, requires_true,
    requires_values,
)

KEYCLOAK_S3_KEYS = ("keycloak_s3_access_key", "keycloak_s3_secret_key")
# Secrets keycloak-config-cli substitutes into the realm file as text before parsing it (their
# placeholders sit inside JSON strings): what a JSON string cannot hold unescaped breaks the realm.
REALM_SECRET_KEYS = (
    "oidc_client_secret", "grafana_oidc_client_secret", "litellm_oidc_client_secret",
    "langfuse_keycloak_client_secret", "obot_keycloak_client_secret",
    "google_client_secret", "github_client_secret", "microsoft_client_secret",
    "keycloak_smtp_user", "keycloak_smtp_password",
)
SOCIAL_PROVIDERS = ("google", "github", "microsoft")


def _role_field():
    return Field(min_length=1, description="Keycloak realm role to grant.")


class DomainRoleMapping(Settings):
    domain: str = Field(min_length=1, description="Google Workspace domain (the `hd` claim).")
    role: str = _role_field()


class GroupRoleMapping(Settings):
    group_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="Entra ID group object ID.")
    role: str = _role_field()


class RealmRole(Settings):
    name: str = Field(min_length=1, description="Role name.")
    description: str | None = Field(None, min_length=1, description="What the role grants.")


class RealmSubgroup(Settings):
    name: str = Field(min_length=1, pattern=r"^[^/]+$", description="Subgroup name.")
    realm_roles: list[str] = Field([], description="Realm roles the subgroup's members get.")


class RealmGroup(Settings):
    name: str = Field(min_length=1, pattern=r"^[^/]+$", description="Group name.")
    description: str | None = Field(None, min_length=1, description="What the group is for.")
    realm_roles: list[str] = Field([], description="Realm roles the group's members get.")
    subgroups: list[RealmSubgroup] = Field([], description="Groups nested under this one.")


class KeycloakSettings(Settings):
    keycloak_enabled: bool = Field(False, description="Deploy Keycloak with the Keycloak Operator.")
    keycloak_subdomain: Subdomain = Field("auth", description="Keycloak is served at <keycloak_subdomain>.<cloudflare_domain>.")
    keycloak_realm: str = Field(
        "matherlynet", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Name of the realm the cluster's apps use.")
    keycloak_admin_password: str | None = secret(
        None, min_length=8, description="Password of Keycloak's bootstrap administrator (8+ characters).")
    keycloak_operator_version: SemVer = Field("26.5.0", description="Keycloak Operator version.")
    keycloak_replicas: int = Field(1, ge=1, le=10, description="Number of Keycloak pods.")

    # -- database ---------------------------------------------------------------------------
    keycloak_db_mode: Literal["embedded", "cnpg"] = Field(
        "embedded", description="embedded: a single PostgreSQL pod (development); cnpg: a CloudNativePG cluster.")
    keycloak_db_name: str = Field("keycloak", min_length=1, description="Database name.")
    keycloak_db_user: str = Field("keycloak", min_length=1, description="Database user.")
    keycloak_db_password: str | None = secret(None, min_length=1, description="Database password.")
    keycloak_db_instances: int = Field(1, ge=1, le=5, description="PostgreSQL instances (cnpg mode).")
    keycloak_storage_size: StorageSize = Field("5Gi", description="Database volume size.")

    # -- backup -----------------------------------------------------------------------------
    keycloak_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for database backups; with the secret key enables them.")
    keycloak_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with keycloak_s3_access_key.")
    keycloak_backup_schedule: Cron = Field("0 2 * * *", description="Cron schedule of the pg_dump backup (embedded mode).")
    keycloak_backup_retention_days: int = Field(
        7, ge=1, le=365, description="Days the pg_dump backups are kept (embedded mode).")

    # -- tracing and dashboards -------------------------------------------------------------
    keycloak_tracing_enabled: bool = Field(
        False, description="Export Keycloak traces to Tempo over OTLP gRPC (needs tracing_enabled).")
    keycloak_tracing_sample_rate: Ratio = Field(0.1, description="Share of Keycloak requests traced, 0.0 to 1.0.")
    keycloak_monitoring_enabled: bool = Field(
        False, description="Deploy the Keycloak ServiceMonitor and Grafana dashboards (needs monitoring_enabled).")

    # -- realm management -------------------------------------------------------------------
    keycloak_config_cli_version: str = Field(
        "6.4.0-26.1.0", pattern=r"^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+\.[0-9]+\.[0-9]+$",
        description="keycloak-config-cli image tag, <cli-version>-<keycloak-version>.")
    keycloak_config_version: int = Field(
        1, ge=1, description="Bump to run the realm Job again with unchanged realm settings (after rotating "
                             "a client, IdP or SMTP secret).")
    keycloak_realm_roles: list[RealmRole] = Field(
        [], description="Realm roles created by the realm Job (roles named by the IdP role mappers are added).")
    keycloak_realm_groups: list[RealmGroup] = Field(
        [], description="Realm groups, with the realm roles their members get.")
    keycloak_events_retention_days: int | None = Field(
        None, ge=1, le=3650, description="Days Keycloak keeps login events; unset keeps them until deleted.")

    # -- e-mail (password reset, verification) ----------------------------------------------
    keycloak_smtp_host: str | None = Field(
        None, min_length=1, pattern=r"^[A-Za-z0-9.-]+$", description="SMTP server; set to let Keycloak send e-mail.")
    keycloak_smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 SSL).")
    keycloak_smtp_from: Email | None = Field(None, description="Sender address (needed with keycloak_smtp_host).")
    keycloak_smtp_from_display_name: str = Field("Keycloak", min_length=1, description="Sender display name.")
    keycloak_smtp_reply_to: Email | None = Field(None, description="Reply-to address.")
    keycloak_smtp_reply_to_display_name: str | None = Field(None, min_length=1, description="Reply-to display name.")
    keycloak_smtp_envelope_from: Email | None = Field(None, description="Envelope sender (bounces).")
    keycloak_smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS.")
    keycloak_smtp_ssl: bool = Field(False, description="TLS from the first byte (port 465).")
    keycloak_smtp_auth: bool = Field(False, description="Log in to the SMTP server with keycloak_smtp_user.")
    keycloak_smtp_user: str | None = secret(None, min_length=1, description="SMTP user name.")
    keycloak_smtp_password: str | None = secret(None, min_length=1, description="SMTP password.")

    # -- social identity providers ----------------------------------------------------------
    google_idp_enabled: bool = Field(False, description="Offer Google sign-in in the Keycloak realm.")
    google_client_id: str | None = Field(None, min_length=1, description="Google OAuth client ID.")
    google_client_secret: str | None = secret(None, min_length=1, description="Google OAuth client secret.")
    github_idp_enabled: bool = Field(False, description="Offer GitHub sign-in in the Keycloak realm.")
    github_client_id: str | None = Field(None, min_length=1, description="GitHub OAuth app client ID.")
    github_client_secret: str | None = secret(None, min_length=1, description="GitHub OAuth app client secret.")
    microsoft_idp_enabled: bool = Field(False, description="Offer Microsoft Entra ID sign-in in the Keycloak realm.")
    microsoft_client_id: str | None = Field(None, min_length=1, description="Entra ID application (client) ID.")
    microsoft_client_secret: str | None = secret(None, min_length=1, description="Entra ID client secret.")
    microsoft_tenant_id: str = Field(
        "common", min_length=1, description="Entra ID tenant ID, or common/organizations/consumers.")

    # -- identity provider role mappers -----------------------------------------------------
    google_default_role: str | None = Field(None, min_length=1, description="Role granted to every Google user.")
    google_domain_role_mapping: DomainRoleMapping | None = Field(
        None, description="Role granted to users of one Google Workspace domain.")
    github_default_role: str | None = Field(None, min_length=1, description="Role granted to every GitHub user.")
    microsoft_default_role: str | None = Field(None, min_length=1, description="Role granted to every Microsoft user.")
    microsoft_group_role_mappings: list[GroupRoleMapping] = Field(
        [], description="Roles granted by Entra ID group membership (needs the groups claim).")


def keycloak_backup_configured(config) -> bool:
    return all(is_set(getattr(config, key)) for key in KEYCLOAK_S3_KEYS)


@rule
def keycloak_requirements(config, nodes):
    if not config.keycloak_enabled:
        return
    yield from requires_values(config, ("keycloak_admin_password", "keycloak_db_password"), "keycloak_enabled is true")
    if config.keycloak_db_mode == "cnpg":
        yield from requires_true(config, "keycloak_db_mode", ("cnpg_enabled",), "keycloak_db_mode is cnpg")
    if config.keycloak_realm == "master":
        yield "keycloak_realm", ("'master' is Keycloak's administration realm, which the gateway keeps off the "
                                 "internet; name the apps' realm differently")


@rule
def keycloak_backup_prerequisites(config, nodes):
    yield from set_together(config, KEYCLOAK_S3_KEYS, "Keycloak backup S3 keys")
    if not config.keycloak_enabled:
        return
    yield from credentials_need_rustfs(config, KEYCLOAK_S3_KEYS, "the Keycloak backup keys")
    if keycloak_backup_configured(config) and config.keycloak_db_mode == "cnpg":
        yield from requires_true(config, "keycloak_s3_access_key", ("cnpg_barman_plugin_enabled",),
                                 "the Barman Cloud plugin ships backups of the CNPG database")


@rule
def keycloak_flag_prerequisites(config, nodes):
    yield from needs(config, "keycloak_tracing_enabled", {"keycloak_enabled": "it traces Keycloak", "tracing_enabled": TRACING})
    yield from needs(config, "keycloak_monitoring_enabled", {"keycloak_enabled": "it monitors Keycloak", "monitoring_enabled": MONITORING})


@rule
def social_providers_complete(config, nodes):
    for provider in SOCIAL_PROVIDERS:
        flag = f"{provider}_idp_enabled"
        yield from needs(config, flag, {"keycloak_enabled": "identity providers are added to the Keycloak realm"})
        if getattr(config, flag):
            yield from requires_values(config, (f"{provider}_client_id", f"{provider}_client_secret"), f"{flag} is true")


@rule
def keycloak_smtp_complete(config, nodes):
    """SMTP needs a sender, SSL or STARTTLS (not both), and with auth a user and password."""
    if not is_set(config.keycloak_smtp_host):
        for key in sorted(config.model_fields_set):
            if key.startswith("keycloak_smtp_") and key != "keycloak_smtp_host":
                yield key, "requires keycloak_smtp_host (without a mail server Keycloak sends no e-mail)"
        return
    yield from requires_values(config, ("keycloak_smtp_from",), "keycloak_smtp_host is set")
    if config.keycloak_smtp_ssl and config.keycloak_smtp_starttls:
        yield "keycloak_smtp_ssl", "keycloak_smtp_ssl and keycloak_smtp_starttls exclude each other; " \
                                   "set keycloak_smtp_starttls: false for SSL from the first byte (port 465)"
    if config.keycloak_smtp_auth:
        yield from requires_values(config, ("keycloak_smtp_user", "keycloak_smtp_password"), "keycloak_smtp_auth is true")


@rule
def keycloak_group_roles_exist(config, nodes):
    """A group may only grant a role the realm has (a configured one or one an IdP mapper adds)."""
    known = set(realm_role_names(config))
    for group in config.keycloak_realm_groups:
        for member in (group, *group.subgroups):
            for role in member.realm_roles:
                if role not in known:
                    yield "keycloak_realm_groups", (f"group {member.name!r} grants realm role {role!r}, which is "
                                                    "neither in keycloak_realm_roles nor granted by an IdP mapper")


def idp_mapper_roles(config) -> dict[str, list[str]]:
    """The roles each social provider's role mappers grant, by provider."""
    return {
        "google": [role for role in (config.google_default_role, config.google_domain_role_mapping
                                     and config.google_domain_role_mapping.role) if role],
        "github": [config.github_default_role] if config.github_default_role else [],
        "microsoft": [role for role in (config.microsoft_default_role,
                                        *(mapping.role for mapping in config.microsoft_group_role_mappings)) if role],
    }


def realm_role_names(config) -> list[str]:
    """The realm roles: the configured ones, then those the enabled providers' mappers grant, each once."""
    names = [role.name for role in config.keycloak_realm_roles]
    for provider, roles in idp_mapper_roles(config).items():
        if getattr(config, f"{provider}_idp_enabled"):
            names.extend(role for role in roles if role not in names)
    return names


@rule
def idp_mappers_need_their_provider(config, nodes):
    """A social provider's role mapper keys need that provider on."""
    mapper_keys = {"google": ("google_default_role", "google_domain_role_mapping"),
                   "github": ("github_default_role",),
                   "microsoft": ("microsoft_default_role", "microsoft_group_role_mappings")}
    for provider, keys in mapper_keys.items():
        if getattr(config, f"{provider}_idp_enabled"):
            continue
        for key in keys:
            if is_set(getattr(config, key)):
                yield key, f"requires {provider}_idp_enabled: true (it maps the roles of {provider.title()} users)"


@rule
def realm_secrets_fit_in_the_realm_file(config, nodes):
    """Realm secrets hold no double quote, backslash or control character (they land in JSON raw)."""
    if not config.keycloak_enabled:
        return
    for key in REALM_SECRET_KEYS:
        value = getattr(config, key)
        if isinstance(value, str) and any(char in '"\\' or ord(char) < 0x20 for char in value):
            yield key, ("must not contain a double quote, a backslash or a control character: keycloak-config-cli "
                        "writes it into the realm's JSON as it is")


@rule
def keycloak_mode_keys(config, nodes):
    """Keys of one database mode are refused in the other, where they would do nothing."""
    only = {"cnpg": ("keycloak_db_instances",),
            "embedded": ("keycloak_backup_schedule", "keycloak_backup_retention_days")}
    for mode, keys in only.items():
        if config.keycloak_db_mode != mode:
            for key in keys:
                if key in config.model_fields_set:
                    yield key, f"applies to keycloak_db_mode: {mode} only"
