"""The Keycloak realm that keycloak-config-cli applies (kubernetes/apps/identity/keycloak/config/).

Built here as data, not in a template, so the realm holds exactly what the configuration turns on and
a test can read it back: the OIDC clients of the enabled apps whose sign-in is on, the social identity
providers, their role mappers, realm roles and groups, e-mail and event settings.

No secret is in the realm itself: every client, IdP and SMTP secret is a `$(env:NAME)` placeholder that
keycloak-config-cli fills in from the environment (the sealed Secret `keycloak-realm-secrets`);
`realm_secrets` returns those values by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..config.components.keycloak import realm_role_names

if TYPE_CHECKING:
    from ..config.model import ClusterConfig

Context = Mapping[str, Any]

# Tenants Entra ID accepts in place of a tenant ID; their tokens carry the user's own tenant as
# issuer, so the issuer cannot be checked against a fixed value.
ENTRA_MULTI_TENANT = ("common", "organizations", "consumers")
GOOGLE_ENDPOINTS = {
    "issuer": "https://accounts.google.com",
    "authorizationUrl": "https://accounts.google.com/o/oauth2/v2/auth",
    "tokenUrl": "https://oauth2.googleapis.com/token",
    "userInfoUrl": "https://openidconnect.googleapis.com/v1/userinfo",
    "jwksUrl": "https://www.googleapis.com/oauth2/v3/certs",
}


def _placeholder(name: str) -> str:
    return f"$(env:{name})"


def _claim_mapper(name: str, mapper: str, claim: str, **config: str) -> dict[str, Any]:
    return {"name": name, "protocol": "openid-connect", "protocolMapper": mapper, "consentRequired": False,
            "config": {"claim.name": claim, "id.token.claim": "true", "access.token.claim": "true",
                       "userinfo.token.claim": "true", **config}}


# Every sign-in client gets the realm roles as `roles` (Grafana's role_attribute_path, LiteLLM and
# Obot role checks) and the group names as `groups` (Obot's allowed groups).
ROLE_AND_GROUP_MAPPERS = (
    _claim_mapper("realm-roles", "oidc-usermodel-realm-role-mapper", "roles", multivalued="true",
                  **{"jsonType.label": "String"}),
    _claim_mapper("groups", "oidc-group-membership-mapper", "groups", **{"full.path": "false"}),
)


def _sign_in_client(client_id: str, name: str, secret_env: str, hosts: list[str], redirects: list[str],
                    *, pkce: bool) -> dict[str, Any]:
    """A confidential authorization-code client. With `pkce`, Keycloak refuses a code request without
    an S256 challenge, so it is set only for apps known to send one."""
    attributes = {"post.logout.redirect.uris": "##".join(f"https://{host}/*" for host in hosts)}
    if pkce:
        attributes["pkce.code.challenge.method"] = "S256"
    return {
        "clientId": client_id, "name": name, "enabled": True, "protocol": "openid-connect",
        "publicClient": False, "clientAuthenticatorType": "client-secret", "secret": _placeholder(secret_env),
        "standardFlowEnabled": True, "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False, "redirectUris": redirects,
        "webOrigins": [f"https://{host}" for host in hosts], "attributes": attributes,
        "protocolMappers": [dict(mapper) for mapper in ROLE_AND_GROUP_MAPPERS],
    }


def gateway_sso_hosts(context: Context) -> list[str]:
    """The hosts whose browser sign-in at the gateway comes back to `/oauth2/callback`. Keycloak
    matches redirect URIs literally up to a trailing `*`, so a `https://*.<domain>` pattern matches
    nothing: each host is listed."""
    hosts = [f"hubble.{context['cloudflare_domain']}" if context.get("hubble_ui_enabled") else None,
             context.get("grafana_hostname"), context.get("rustfs_hostname")]
    return [host for host in hosts if host]


def realm_clients(config: ClusterConfig, context: Context) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The OIDC clients and, by environment name, the secrets their placeholders stand for."""
    clients: list[dict[str, Any]] = []
    secrets: dict[str, str] = {}

    def add(enabled: object, client_id: str, name: str, env: str, secret: str | None, hosts: list[str],
            redirects: list[str], pkce: bool) -> None:
        if enabled:
            clients.append(_sign_in_client(client_id, name, env, hosts, redirects, pkce=pkce))
            secrets[env] = secret or ""

    sso_hosts = gateway_sso_hosts(context)
    add(context.get("keycloak_bootstrap_oidc_client"), config.oidc_client_id, "Envoy Gateway SSO",
        "OIDC_CLIENT_SECRET", config.oidc_client_secret, sso_hosts,
        [f"https://{host}/oauth2/callback" for host in sso_hosts], pkce=False)
    grafana = context.get("grafana_hostname")
    add(context.get("grafana_oidc_enabled"), "grafana", "Grafana", "GRAFANA_CLIENT_SECRET",
        config.grafana_oidc_client_secret, [grafana], [f"https://{grafana}/login/generic_oauth"], pkce=True)
    litellm = context.get("litellm_hostname")
    add(context.get("litellm_oidc_enabled"), "litellm", "LiteLLM", "LITELLM_CLIENT_SECRET",
        config.litellm_oidc_client_secret, [litellm], [f"https://{litellm}/sso/callback"], pkce=False)
    langfuse = context.get("langfuse_hostname")
    add(context.get("langfuse_sso_enabled"), "langfuse", "Langfuse", "LANGFUSE_CLIENT_SECRET",
        config.langfuse_keycloak_client_secret, [langfuse],
        [f"{context.get('langfuse_url')}/api/auth/callback/keycloak"], pkce=False)
    obot = context.get("obot_hostname")
    add(context.get("obot_keycloak_enabled"), config.obot_keycloak_client_id, "Obot", "OBOT_CLIENT_SECRET",
        config.obot_keycloak_client_secret, [obot], [f"https://{obot}/oauth2/callback"], pkce=True)
    return clients, secrets


def identity_providers(config: ClusterConfig, context: Context) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Google and Microsoft as generic OIDC providers (Keycloak's claim-to-role mappers only work with
    those; its `google` and `microsoft` provider types cannot carry them), GitHub as Keycloak's GitHub
    provider. Microsoft addresses are not trusted as verified: Entra ID lets a tenant set any e-mail."""
    providers: list[dict[str, Any]] = []
    secrets: dict[str, str] = {}

    def provider(alias: str, display: str, provider_id: str, trust_email: bool, **settings: str) -> None:
        prefix = alias.upper()
        providers.append({
            "alias": alias, "displayName": display, "providerId": provider_id, "enabled": True,
            "trustEmail": trust_email, "storeToken": False, "linkOnly": False,
            "firstBrokerLoginFlowAlias": "first broker login",
            "config": {"clientId": getattr(config, f"{alias}_client_id"),
                       "clientSecret": _placeholder(f"{prefix}_CLIENT_SECRET"), "syncMode": "IMPORT", **settings},
        })
        secrets[f"{prefix}_CLIENT_SECRET"] = getattr(config, f"{alias}_client_secret") or ""

    oidc = {"useJwksUrl": "true", "validateSignature": "true", "clientAuthMethod": "client_secret_post",
            "defaultScope": "openid profile email"}
    if context.get("google_idp_enabled"):
        provider("google", "Google", "oidc", True, **GOOGLE_ENDPOINTS, **oidc)
    if context.get("github_idp_enabled"):
        provider("github", "GitHub", "github", True, defaultScope="user:email")
    if context.get("microsoft_idp_enabled"):
        tenant = config.microsoft_tenant_id
        base = f"https://login.microsoftonline.com/{tenant}"
        endpoints = {"authorizationUrl": f"{base}/oauth2/v2.0/authorize", "tokenUrl": f"{base}/oauth2/v2.0/token",
                     "userInfoUrl": "https://graph.microsoft.com/oidc/userinfo",
                     "jwksUrl": f"{base}/discovery/v2.0/keys"}
        if tenant not in ENTRA_MULTI_TENANT:
            endpoints["issuer"] = f"{base}/v2.0"
        provider("microsoft", "Microsoft", "oidc", False, **endpoints, **oidc)
    return providers, secrets


def role_mappers(config: ClusterConfig, context: Context) -> list[dict[str, Any]]:
    """Hardcoded roles for every user of a provider, and claim-to-role mappers (Google's `hd` domain
    claim, Entra ID group object IDs in `groups`). Claim mappers use FORCE so a role follows the claim
    at every login, also when it goes away."""
    mappers: list[dict[str, Any]] = []

    def mapper(alias: str, name: str, kind: str, sync: str, role: str, **settings: str) -> None:
        mappers.append({"name": name, "identityProviderAlias": alias, "identityProviderMapper": kind,
                        "config": {"syncMode": sync, "role": role, **settings}})

    for alias in ("google", "github", "microsoft"):
        default_role = getattr(config, f"{alias}_default_role")
        if context.get(f"{alias}_idp_enabled") and default_role:
            mapper(alias, f"{alias}-default-role", "oidc-hardcoded-role-idp-mapper", "INHERIT", default_role)
    domain = config.google_domain_role_mapping
    if context.get("google_idp_enabled") and domain:
        mapper("google", f"google-domain-{domain.domain}", "oidc-role-idp-mapper", "FORCE", domain.role,
               claim="hd", **{"claim.value": domain.domain})
    if context.get("microsoft_idp_enabled"):
        for group in config.microsoft_group_role_mappings:
            mapper("microsoft", f"microsoft-group-{group.group_id}-{group.role}", "oidc-role-idp-mapper", "FORCE",
                   group.role, claim="groups", **{"claim.value": group.group_id})
    return mappers


def smtp_server(config: ClusterConfig) -> tuple[dict[str, str] | None, dict[str, str]]:
    if not config.keycloak_smtp_host:
        return None, {}
    server = {"host": config.keycloak_smtp_host, "port": str(config.keycloak_smtp_port),
              "from": config.keycloak_smtp_from or "", "fromDisplayName": config.keycloak_smtp_from_display_name,
              "starttls": str(config.keycloak_smtp_starttls).lower(), "ssl": str(config.keycloak_smtp_ssl).lower(),
              "auth": str(config.keycloak_smtp_auth).lower()}
    optional = {"replyTo": config.keycloak_smtp_reply_to, "envelopeFrom": config.keycloak_smtp_envelope_from,
                "replyToDisplayName": config.keycloak_smtp_reply_to_display_name}
    server.update({key: value for key, value in optional.items() if value})
    secrets: dict[str, str] = {}
    if config.keycloak_smtp_auth:
        server.update(user=_placeholder("KEYCLOAK_SMTP_USER"), password=_placeholder("KEYCLOAK_SMTP_PASSWORD"))
        secrets = {"KEYCLOAK_SMTP_USER": config.keycloak_smtp_user or "",
                   "KEYCLOAK_SMTP_PASSWORD": config.keycloak_smtp_password or ""}
    return server, secrets


def realm_groups(config: ClusterConfig) -> list[dict[str, Any]]:
    groups = []
    for group in config.keycloak_realm_groups:
        entry: dict[str, Any] = {"name": group.name, "realmRoles": list(group.realm_roles),
                                 "subGroups": [{"name": sub.name, "realmRoles": list(sub.realm_roles)}
                                               for sub in group.subgroups]}
        if group.description:
            entry["attributes"] = {"description": [group.description]}
        groups.append(entry)
    return groups


def build_realm(config: ClusterConfig, context: Context) -> tuple[dict[str, Any], dict[str, str]]:
    """The realm document and the secrets its placeholders stand for, by environment name."""
    clients, client_secrets = realm_clients(config, context)
    providers, provider_secrets = identity_providers(config, context)
    smtp, smtp_secrets = smtp_server(config)
    descriptions = {role.name: role.description for role in config.keycloak_realm_roles}
    realm: dict[str, Any] = {
        "realm": config.keycloak_realm, "enabled": True,
        "registrationAllowed": False, "loginWithEmailAllowed": True, "duplicateEmailsAllowed": False,
        # A reset link needs a mail server to go out.
        "resetPasswordAllowed": smtp is not None,
        "bruteForceProtected": True, "failureFactor": 5, "permanentLockout": False,
        "eventsEnabled": True, "eventsListeners": ["jboss-logging"], "adminEventsEnabled": True,
        "adminEventsDetailsEnabled": False,
    }
    if config.keycloak_events_retention_days:
        realm["eventsExpiration"] = config.keycloak_events_retention_days * 86400
    if smtp:
        realm["smtpServer"] = smtp
    roles = [{"name": name, **({"description": descriptions[name]} if descriptions.get(name) else {})}
             for name in realm_role_names(config)]
    if roles:
        realm["roles"] = {"realm": roles}
    if config.keycloak_realm_groups:
        realm["groups"] = realm_groups(config)
    if clients:
        realm["clients"] = clients
    if providers:
        realm["identityProviders"] = providers
        mappers = role_mappers(config, context)
        if mappers:
            realm["identityProviderMappers"] = mappers
    return realm, {**client_secrets, **provider_secrets, **smtp_secrets}


def derive_keycloak_realm(config: ClusterConfig, context: Context) -> dict[str, object]:
    """`keycloak_realm_config` (the realm document), `keycloak_realm_secrets` (environment name ->
    value, for the sealed Secret) and `keycloak_realm_job` (the Job's name: a new realm or a bumped
    keycloak_config_version gives a new Job, which Flux runs once; secrets do not enter the name)."""
    if not context.get("keycloak_enabled"):
        return {"keycloak_realm_config": None, "keycloak_realm_secrets": {}, "keycloak_realm_job": None}
    realm, secrets = build_realm(config, context)
    fingerprint = json.dumps([realm, config.keycloak_config_version, config.keycloak_config_cli_version],
                             sort_keys=True)
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:10]
    return {"keycloak_realm_config": realm, "keycloak_realm_secrets": secrets,
            "keycloak_realm_job": f"keycloak-realm-{digest}"}
