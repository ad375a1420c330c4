"""Keys the seed's `cluster.yaml` schema accepts that this template does not support, with the reason.

A seed user's config is refused key by key with "not supported (yet): <reason>" instead of "unknown
key", so they learn whether to delete the key or wait for it. A key listed here that the model later
gains is simply accepted: the model is consulted first, this table only for keys it does not know.
"""

from __future__ import annotations

_NOT_RENDERED = "the seed renders {what}; this template does not"

_SCIM = ("the Keycloak-to-Langfuse role sync needs a Langfuse Enterprise licence and is not rendered; "
         "new SSO users get langfuse_default_org_role / langfuse_default_project_role (remove its keys)")

# Whole feature families of the seed that are not part of this template, by key prefix.
_PREFIXES: dict[str, str] = {
    "mcp_context_forge_": _NOT_RENDERED.format(what="MCP Context Forge") + " (remove its keys)",
    "headlamp_": _NOT_RENDERED.format(what="Headlamp") + " (remove its keys)",
    "volsync_": _NOT_RENDERED.format(what="VolSync PVC backups") + " (remove its keys)",
    "kubernetes_oidc_": "Kubernetes API server OIDC sign-in is not rendered yet (remove its keys)",
    "proxmox_csi_": "the Proxmox CSI driver is not part of this template; use a storage class you install",
    "proxmox_ccm_": "the Proxmox cloud controller manager is not part of this template",
    "langfuse_scim_": _SCIM,
    "langfuse_sync_keycloak_": _SCIM,
    "obot_entra_": "Obot's Entra ID sign-in is not supported; use obot_keycloak_enabled",
}

_KEYS: dict[str, str] = {
    "monitoring_stack": "the monitoring stack is always kube-prometheus-stack (the seed allowed only "
                        "'prometheus' too); remove the key",
    "unifi_external_controller": "external-dns talks to the UniFi controller named by unifi_host either way; "
                                 "remove the key",
    "proxmox_endpoint": "it served the Proxmox CSI driver and cloud controller, which are not part of "
                        "this template (the VMs use proxmox_api_url)",
    "proxmox_region": "it served the Proxmox CSI driver and cloud controller, which are not part of this template",
    "observability_namespace": "the observability components always run in the monitoring namespace; "
                               "remove the key",
    "environment": "it only labelled the seed's OpenTofu state; remove the key",
    "cf_account_id": "the OpenTofu state is reached through the tfstate Worker at tfstate.<cloudflare_domain>, "
                     "which needs no account ID; remove the key",
    "external_secrets_enabled": "secrets are sops-encrypted in git; External Secrets is not supported",
    "external_secrets_provider": "secrets are sops-encrypted in git; External Secrets is not supported",
    "onepassword_connect_host": "secrets are sops-encrypted in git; External Secrets is not supported",
    "obot_encryption_provider": "Obot's data is always encrypted with obot_encryption_key (the seed's aws, gcp "
                                "and azure providers need a KMS key and cloud credentials no key provides); "
                                "remove the key",
    "rustfs_buffer_profile": "no template of the seed used it either; remove the key",
    "github_org_role_mapping": "Keycloak's GitHub provider reads the user's profile and e-mail only, never "
                               "organization membership (the seed's mapper matched organizations_url, which "
                               "holds the user's login); grant the role with github_default_role or a realm "
                               "group instead",
    "dragonfly_keycloak_password": "Keycloak 26 caches in its own Infinispan, not in Redis/Dragonfly, so no "
                                   "keycloak ACL user is created; remove the key",
    "litellm_backup_enabled": "LiteLLM database backups follow from litellm_s3_access_key/"
                              "litellm_s3_secret_key being set; remove the key",
    "langfuse_role_mapping": _SCIM,
    "litellm_guardrails_enabled": "the seed's content filter called Aporia with credentials no key provides; "
                                  "configure guardrails in the LiteLLM admin UI",
    "litellm_presidio_enabled": "the seed pointed LiteLLM at Presidio sidecars it never deployed; "
                                "configure PII masking in the LiteLLM admin UI",
    "litellm_prompt_injection_check": "the seed called Lakera with credentials no key provides; "
                                      "configure guardrails in the LiteLLM admin UI",
    "dragonfly_mcpgateway_password": _NOT_RENDERED.format(what="MCP Context Forge") + ", the only user of "
                                     "this Dragonfly ACL password (remove the key)",
    "obot_keycloak_cookie_secret": "Obot generates the cookie secret of its Keycloak sign-in itself when the "
                                   "provider is configured (its API replaces any given one); remove the key",
    "oidc_additional_claims": "forwarding JWT claims as headers is not rendered yet; remove the key",
}


def unsupported_seed_key(key: str) -> str | None:
    """Why a seed key is not supported, or None for a key the seed does not have either."""
    if key in _KEYS:
        return _KEYS[key]
    return next((reason for prefix, reason in _PREFIXES.items() if key.startswith(prefix)), None)
