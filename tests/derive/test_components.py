"""Derived variables of the optional components (SEED.md "Derived Variables"): every rule with on,
off and partial inputs, the Proxmox VM size chain per field, and the shape of the context."""

from __future__ import annotations

import types

import pytest

from cluster_template.config.core import CoreSettings
from cluster_template.config.model import ClusterConfig, NodesConfig
from cluster_template.derive.components import DERIVERS
from tests.config.test_components import (
    BARMAN, CNPG, CORE, DRAGONFLY, DRAGONFLY_ACL, FULL, KEYCLOAK, LANGFUSE, LITELLM, MONITORING, NODE, OBOT, PROXMOX,
    RUSTFS, TRACING,
)

WORKER = {**NODE, "name": "k8s-1", "address": "192.168.1.11", "controller": False, "mac_addr": "aa:bb:cc:dd:ee:02"}
AGE_PUBLIC_KEY = "age1examplepublickey"


def derived(settings: dict | None = None, nodes: tuple[dict, ...] = (NODE,)) -> dict:
    """The context as the derivation pipeline builds it: config keys, nodes, local inputs, then DERIVERS."""
    config = ClusterConfig.model_validate({**CORE, **(settings or {})})
    context = config.model_dump()
    context["nodes"] = [node.model_dump() for node in NodesConfig.model_validate({"nodes": list(nodes)}).nodes]
    context["age_public_key"] = AGE_PUBLIC_KEY
    for deriver in DERIVERS:
        context.update(deriver(config, types.MappingProxyType(dict(context))))
    return context


KC_ISSUER = "https://auth.example.com/realms/matherlynet"
MANUAL_OIDC = {"oidc_issuer_url": "https://id.example.org/realm", "oidc_jwks_uri": "https://id.example.org/realm/keys"}
BACKUP = {"backup_s3_endpoint": "https://s3.example.com", "backup_s3_bucket": "etcd"}
KC_S3 = {"keycloak_s3_access_key": "a", "keycloak_s3_secret_key": "s"}
CNPG_BACKUP = {**BARMAN, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"}
LL_S3 = {"litellm_s3_access_key": "a", "litellm_s3_secret_key": "s"}
LL_LANGFUSE = {"litellm_langfuse_enabled": True, "litellm_langfuse_public_key": "pk-lf-1",
               "litellm_langfuse_secret_key": "sk-lf-1"}
DF_BACKUP = {"dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "a", "dragonfly_s3_secret_key": "s"}
LF_S3 = {"langfuse_s3_access_key": "lfa", "langfuse_s3_secret_key": "lfs"}
LF_BACKUP_KEYS = {"langfuse_backup_s3_access_key": "ba", "langfuse_backup_s3_secret_key": "bs"}
OBOT_KC = {"obot_keycloak_enabled": True, "obot_keycloak_client_secret": "s"}
OBOT_S3 = {"obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "wa", "obot_workspace_s3_secret_key": "ws"}

RULES = {
    # Talos backup
    "talos backup off": ({}, "talos_backup_enabled", False),
    "talos backup endpoint only": ({"backup_s3_endpoint": "https://s3.example.com"}, "talos_backup_enabled", False),
    "talos backup on": (BACKUP, "talos_backup_enabled", True),
    "backup endpoint external": (BACKUP, "backup_s3_internal", False),
    "backup endpoint internal": ({**BACKUP, "backup_s3_endpoint": "http://rustfs-svc.storage.svc.cluster.local:9000"},
                                 "backup_s3_internal", True),
    "backup age key default": (BACKUP, "backup_age_public_key", AGE_PUBLIC_KEY),
    "backup age key given": ({**BACKUP, "backup_age_public_key": "age1other"}, "backup_age_public_key", "age1other"),
    # OIDC
    "oidc off": ({}, "oidc_enabled", False),
    "oidc issuer only": ({"oidc_issuer_url": "https://id.example.org"}, "oidc_enabled", False),
    "oidc manual": (MANUAL_OIDC, "oidc_enabled", True),
    "oidc from keycloak": (KEYCLOAK, "oidc_enabled", True),
    "oidc issuer from keycloak": (KEYCLOAK, "oidc_issuer_url", KC_ISSUER),
    "oidc jwks from keycloak": (KEYCLOAK, "oidc_jwks_uri", KC_ISSUER + "/protocol/openid-connect/certs"),
    "oidc issuer given beats keycloak": ({**KEYCLOAK, **MANUAL_OIDC}, "oidc_issuer_url", "https://id.example.org/realm"),
    "oidc jwks given beats keycloak": ({**KEYCLOAK, **MANUAL_OIDC}, "oidc_jwks_uri", "https://id.example.org/realm/keys"),
    "oidc issuer off": ({}, "oidc_issuer_url", None),
    "oidc provider off": ({}, "oidc_provider_name", None),
    "oidc provider keycloak": (KEYCLOAK, "oidc_provider_name", "keycloak"),
    "oidc provider manual": (MANUAL_OIDC, "oidc_provider_name", "oidc"),
    "oidc provider given": ({**KEYCLOAK, "oidc_provider_name": "corp"}, "oidc_provider_name", "corp"),
    "oidc sso manual": ({**MANUAL_OIDC, "oidc_sso_enabled": True, "oidc_client_secret": "s"}, "oidc_sso_enabled", True),
    "oidc sso keycloak": ({**KEYCLOAK, "oidc_sso_enabled": True, "oidc_client_secret": "s"}, "oidc_sso_enabled", True),
    "oidc sso without secret": ({**KEYCLOAK, "oidc_sso_enabled": True}, "oidc_sso_enabled", False),
    "oidc sso without issuer": ({"oidc_sso_enabled": True, "oidc_client_secret": "s"}, "oidc_sso_enabled", False),
    "oidc client bootstrap keycloak": ({**KEYCLOAK, "oidc_sso_enabled": True, "oidc_client_secret": "s"},
                                       "keycloak_bootstrap_oidc_client", True),
    "oidc client bootstrap manual": ({**MANUAL_OIDC, "oidc_sso_enabled": True, "oidc_client_secret": "s"},
                                     "keycloak_bootstrap_oidc_client", False),
    # infrastructure
    "infrastructure off": ({}, "infrastructure_enabled", False),
    "infrastructure url only": ({"proxmox_api_url": "https://pve:8006"}, "infrastructure_enabled", False),
    "infrastructure on": (PROXMOX, "infrastructure_enabled", True),
    # observability and RustFS
    "rustfs off": ({}, "rustfs_enabled", False),
    "rustfs on": (RUSTFS, "rustfs_enabled", True),
    "rustfs hostname": (RUSTFS, "rustfs_hostname", "rustfs.example.com"),
    "rustfs hostname off": ({}, "rustfs_hostname", None),
    "rustfs storage class default": ({**RUSTFS, "storage_class": "fast"}, "rustfs_storage_class", "fast"),
    "rustfs storage class given": ({**RUSTFS, "storage_class": "fast", "rustfs_storage_class": "bulk"},
                                   "rustfs_storage_class", "bulk"),
    "loki single binary": ({"loki_enabled": True}, "loki_deployment_mode", "SingleBinary"),
    "loki simple scalable": ({"loki_enabled": True, **RUSTFS}, "loki_deployment_mode", "SimpleScalable"),
    "rustfs dashboard on": ({**RUSTFS, **MONITORING, "rustfs_monitoring_enabled": True}, "rustfs_monitoring_enabled", True),
    "rustfs dashboard without monitoring": ({**RUSTFS, "rustfs_monitoring_enabled": True}, "rustfs_monitoring_enabled", False),
    "rustfs dashboard without rustfs": ({**MONITORING, "rustfs_monitoring_enabled": True}, "rustfs_monitoring_enabled", False),
    "loki dashboard on": ({**MONITORING, "loki_enabled": True, "loki_monitoring_enabled": True}, "loki_monitoring_enabled", True),
    "loki dashboard without loki": ({**MONITORING, "loki_monitoring_enabled": True}, "loki_monitoring_enabled", False),
    "loki dashboard without monitoring": ({"loki_enabled": True, "loki_monitoring_enabled": True},
                                          "loki_monitoring_enabled", False),
    "hubble ui on": ({"hubble_enabled": True, "hubble_ui_enabled": True}, "hubble_ui_enabled", True),
    "hubble ui without hubble": ({"hubble_ui_enabled": True}, "hubble_ui_enabled", False),
    "grafana hostname": (MONITORING, "grafana_hostname", "grafana.example.com"),
    "grafana oidc on": ({**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
                        "grafana_oidc_enabled", True),
    "grafana oidc without secret": ({**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True}, "grafana_oidc_enabled", False),
    "grafana oidc without keycloak": ({**MONITORING, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
                                      "grafana_oidc_enabled", False),
    "grafana oidc without monitoring": ({**KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
                                        "grafana_oidc_enabled", False),
    # CNPG
    "cnpg off": ({}, "cnpg_enabled", False),
    "cnpg on": (CNPG, "cnpg_enabled", True),
    "barman on": (BARMAN, "cnpg_barman_plugin_enabled", True),
    "barman without cnpg": ({"cnpg_barman_plugin_enabled": True}, "cnpg_barman_plugin_enabled", False),
    "pgvector on": ({**CNPG, "cnpg_pgvector_enabled": True}, "cnpg_pgvector_enabled", True),
    "pgvector without cnpg": ({"cnpg_pgvector_enabled": True}, "cnpg_pgvector_enabled", False),
    "cnpg backup on": (CNPG_BACKUP, "cnpg_backup_enabled", True),
    "cnpg backup without rustfs": ({**CNPG_BACKUP, "rustfs_enabled": False}, "cnpg_backup_enabled", False),
    "cnpg backup without flag": ({**CNPG_BACKUP, "cnpg_backup_enabled": False}, "cnpg_backup_enabled", False),
    "cnpg backup without a key": ({**CNPG_BACKUP, "cnpg_s3_secret_key": None}, "cnpg_backup_enabled", False),
    "cnpg backup without cnpg": ({**CNPG_BACKUP, "cnpg_enabled": False}, "cnpg_backup_enabled", False),
    # Keycloak
    "keycloak off": ({}, "keycloak_enabled", False),
    "keycloak on": (KEYCLOAK, "keycloak_enabled", True),
    "keycloak hostname": (KEYCLOAK, "keycloak_hostname", "auth.example.com"),
    "keycloak hostname subdomain": ({**KEYCLOAK, "keycloak_subdomain": "sso"}, "keycloak_hostname", "sso.example.com"),
    "keycloak hostname off": ({}, "keycloak_hostname", None),
    "keycloak issuer": ({**KEYCLOAK, "keycloak_realm": "lab"}, "keycloak_issuer_url", "https://auth.example.com/realms/lab"),
    "keycloak internal issuer": ({**KEYCLOAK, "keycloak_realm": "lab"}, "keycloak_internal_issuer_url",
                                 "http://keycloak-service.identity.svc.cluster.local:8080/realms/lab"),
    "keycloak jwks": (KEYCLOAK, "keycloak_jwks_uri", KC_ISSUER + "/protocol/openid-connect/certs"),
    "keycloak jwks off": ({}, "keycloak_jwks_uri", None),
    "keycloak backup on": ({**KEYCLOAK, **RUSTFS, **KC_S3}, "keycloak_backup_enabled", True),
    "keycloak backup without rustfs": ({**KEYCLOAK, **KC_S3}, "keycloak_backup_enabled", False),
    "keycloak backup one key": ({**KEYCLOAK, **RUSTFS, "keycloak_s3_access_key": "a"}, "keycloak_backup_enabled", False),
    "keycloak backup keycloak off": ({**RUSTFS, **KC_S3}, "keycloak_backup_enabled", False),
    "keycloak tracing on": ({**KEYCLOAK, **TRACING, "keycloak_tracing_enabled": True}, "keycloak_tracing_enabled", True),
    "keycloak tracing without tracing": ({**KEYCLOAK, "keycloak_tracing_enabled": True}, "keycloak_tracing_enabled", False),
    "keycloak monitoring on": ({**KEYCLOAK, **MONITORING, "keycloak_monitoring_enabled": True},
                               "keycloak_monitoring_enabled", True),
    "keycloak monitoring without monitoring": ({**KEYCLOAK, "keycloak_monitoring_enabled": True},
                                               "keycloak_monitoring_enabled", False),
    "keycloak monitoring keycloak off": ({**MONITORING, "keycloak_monitoring_enabled": True},
                                         "keycloak_monitoring_enabled", False),
    "google idp on": ({**KEYCLOAK, "google_idp_enabled": True, "google_client_id": "i", "google_client_secret": "s"},
                      "google_idp_enabled", True),
    "google idp without secret": ({**KEYCLOAK, "google_idp_enabled": True, "google_client_id": "i"},
                                  "google_idp_enabled", False),
    "github idp keycloak off": ({"github_idp_enabled": True, "github_client_id": "i", "github_client_secret": "s"},
                                "github_idp_enabled", False),
    # Dragonfly
    "dragonfly off": ({}, "dragonfly_enabled", False),
    "dragonfly on": (DRAGONFLY, "dragonfly_enabled", True),
    "dragonfly backup on": ({**DRAGONFLY, **RUSTFS, **DF_BACKUP}, "dragonfly_backup_enabled", True),
    "dragonfly backup without flag": ({**DRAGONFLY, **RUSTFS, **DF_BACKUP, "dragonfly_backup_enabled": False},
                                      "dragonfly_backup_enabled", False),
    "dragonfly backup without rustfs": ({**DRAGONFLY, **DF_BACKUP}, "dragonfly_backup_enabled", False),
    "dragonfly backup one key": ({**DRAGONFLY, **RUSTFS, **DF_BACKUP, "dragonfly_s3_access_key": None},
                                 "dragonfly_backup_enabled", False),
    "dragonfly monitoring on": ({**DRAGONFLY, **MONITORING, "dragonfly_monitoring_enabled": True},
                                "dragonfly_monitoring_enabled", True),
    "dragonfly monitoring without monitoring": ({**DRAGONFLY, "dragonfly_monitoring_enabled": True},
                                                "dragonfly_monitoring_enabled", False),
    "dragonfly acl on": (DRAGONFLY_ACL, "dragonfly_acl_enabled", True),
    "dragonfly acl without dragonfly": ({"dragonfly_acl_enabled": True}, "dragonfly_acl_enabled", False),
    # LiteLLM
    "litellm off": ({}, "litellm_enabled", False),
    "litellm on": (LITELLM, "litellm_enabled", True),
    "litellm hostname": (LITELLM, "litellm_hostname", "litellm.example.com"),
    "litellm hostname off": ({}, "litellm_hostname", None),
    "litellm oidc on": ({**LITELLM, **KEYCLOAK, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
                        "litellm_oidc_enabled", True),
    "litellm oidc without keycloak": ({**LITELLM, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
                                      "litellm_oidc_enabled", False),
    "litellm oidc without secret": ({**LITELLM, **KEYCLOAK, "litellm_oidc_enabled": True}, "litellm_oidc_enabled", False),
    "litellm backup on": ({**LITELLM, **RUSTFS, **LL_S3}, "litellm_backup_enabled", True),
    "litellm backup without rustfs": ({**LITELLM, **LL_S3}, "litellm_backup_enabled", False),
    "litellm backup one key": ({**LITELLM, **RUSTFS, "litellm_s3_access_key": "a"}, "litellm_backup_enabled", False),
    "litellm monitoring on": ({**LITELLM, **MONITORING, "litellm_monitoring_enabled": True}, "litellm_monitoring_enabled", True),
    "litellm monitoring without monitoring": ({**LITELLM, "litellm_monitoring_enabled": True},
                                              "litellm_monitoring_enabled", False),
    "litellm tracing on": ({**LITELLM, **TRACING, "litellm_tracing_enabled": True}, "litellm_tracing_enabled", True),
    "litellm tracing without tracing": ({**LITELLM, "litellm_tracing_enabled": True}, "litellm_tracing_enabled", False),
    "litellm langfuse on": ({**LITELLM, **LL_LANGFUSE}, "litellm_langfuse_enabled", True),
    "litellm langfuse without secret key": ({**LITELLM, **LL_LANGFUSE, "litellm_langfuse_secret_key": None},
                                            "litellm_langfuse_enabled", False),
    "litellm langfuse without flag": ({**LITELLM, **LL_LANGFUSE, "litellm_langfuse_enabled": False},
                                      "litellm_langfuse_enabled", False),
    "litellm langfuse litellm off": (LL_LANGFUSE, "litellm_langfuse_enabled", False),
    "litellm langfuse host cloud": (LITELLM, "litellm_langfuse_host", "https://cloud.langfuse.com"),
    "litellm langfuse host internal": ({**LITELLM, **LANGFUSE}, "litellm_langfuse_host",
                                       "http://langfuse-web.ai-system.svc.cluster.local:3000"),
    "litellm langfuse host given": ({**LITELLM, **LANGFUSE, "litellm_langfuse_host": "https://lf.example.org"},
                                    "litellm_langfuse_host", "https://lf.example.org"),
    "litellm alerting on": ({**LITELLM, "litellm_alerting_enabled": True,
                             "litellm_slack_webhook_url": "https://hooks.slack.com/services/x"},
                            "litellm_alerting_enabled", True),
    "litellm alerting without webhook": ({**LITELLM, "litellm_alerting_enabled": True}, "litellm_alerting_enabled", False),
    # Langfuse
    "langfuse off": ({}, "langfuse_enabled", False),
    "langfuse on": (LANGFUSE, "langfuse_enabled", True),
    "langfuse hostname": (LANGFUSE, "langfuse_hostname", "langfuse.example.com"),
    "langfuse url": ({**LANGFUSE, "langfuse_subdomain": "llm"}, "langfuse_url", "https://llm.example.com"),
    "langfuse url off": ({}, "langfuse_url", None),
    "langfuse sso on": ({**LANGFUSE, **KEYCLOAK, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "s"},
                        "langfuse_sso_enabled", True),
    "langfuse sso without keycloak": ({**LANGFUSE, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "s"},
                                      "langfuse_sso_enabled", False),
    "langfuse sso without secret": ({**LANGFUSE, **KEYCLOAK, "langfuse_sso_enabled": True}, "langfuse_sso_enabled", False),
    "langfuse backup with own keys": ({**LANGFUSE, **RUSTFS, **BARMAN, **LF_S3, **LF_BACKUP_KEYS,
                                       "langfuse_backup_enabled": True}, "langfuse_backup_enabled", True),
    "langfuse backup reusing storage keys": ({**LANGFUSE, **RUSTFS, **BARMAN, **LF_S3, "langfuse_backup_enabled": True},
                                             "langfuse_backup_enabled", True),
    "langfuse backup without keys": ({**LANGFUSE, **RUSTFS, **BARMAN, "langfuse_backup_enabled": True,
                                      "langfuse_s3_access_key": None, "langfuse_s3_secret_key": None},
                                     "langfuse_backup_enabled", False),
    "langfuse backup without rustfs": ({**LANGFUSE, **BARMAN, **LF_BACKUP_KEYS, "langfuse_backup_enabled": True,
                                        "rustfs_enabled": False},
                                       "langfuse_backup_enabled", False),
    "langfuse backup without flag": ({**LANGFUSE, **RUSTFS, **LF_S3}, "langfuse_backup_enabled", False),
    "langfuse backup key own": ({**LANGFUSE, **RUSTFS, **LF_S3, **LF_BACKUP_KEYS}, "langfuse_backup_s3_access_key", "ba"),
    "langfuse backup key reused": ({**LANGFUSE, **RUSTFS, **LF_S3}, "langfuse_backup_s3_secret_key", "lfs"),
    "langfuse monitoring on": ({**LANGFUSE, **MONITORING, "langfuse_monitoring_enabled": True},
                               "langfuse_monitoring_enabled", True),
    "langfuse monitoring without monitoring": ({**LANGFUSE, "langfuse_monitoring_enabled": True},
                                               "langfuse_monitoring_enabled", False),
    "langfuse tracing on": ({**LANGFUSE, **TRACING, "langfuse_tracing_enabled": True}, "langfuse_tracing_enabled", True),
    "langfuse tracing without tracing": ({**LANGFUSE, "langfuse_tracing_enabled": True}, "langfuse_tracing_enabled", False),
    "langfuse storage buckets": (LANGFUSE, "langfuse_storage_buckets",
                                 ["langfuse-events", "langfuse-media", "langfuse-exports"]),
    "langfuse storage buckets without exports": ({**LANGFUSE, "langfuse_batch_export_enabled": False,
                                                  "langfuse_media_bucket": "lf-media"},
                                                 "langfuse_storage_buckets", ["langfuse-events", "lf-media"]),
    "langfuse redis default user": (LANGFUSE, "langfuse_redis_user", "default"),
    "langfuse redis acl user": ({**LANGFUSE, **DRAGONFLY_ACL}, "langfuse_redis_password", "df-langfuse"),
    "langfuse org name from cluster": ({**LANGFUSE, "cluster_name": "lab"}, "langfuse_init_org_name", "lab"),
    "langfuse org name default cluster": (LANGFUSE, "langfuse_init_org_name", "kubernetes"),
    "langfuse org name given": ({**LANGFUSE, "langfuse_init_org_name": "ACME"}, "langfuse_init_org_name", "ACME"),
    "langfuse email from default": (LANGFUSE, "langfuse_email_from", "noreply@example.com"),
    "langfuse email from given": ({**LANGFUSE, "langfuse_email_from": "llm@example.org"},
                                  "langfuse_email_from", "llm@example.org"),
    "langfuse default org from init": ({"langfuse_init_org_id": "acme"}, "langfuse_default_org_id", "acme"),
    "langfuse default org given": ({"langfuse_init_org_id": "acme", "langfuse_default_org_id": "guests"},
                                   "langfuse_default_org_id", "guests"),
    "langfuse default project from init": ({"langfuse_init_project_id": "main"}, "langfuse_default_project_id", "main"),
    "langfuse default project unset": ({}, "langfuse_default_project_id", None),
    "langfuse headless on": ({**LANGFUSE, "langfuse_init_org_id": "acme", "langfuse_init_user_email": "a@example.com",
                              "langfuse_init_user_password": "p" * 16}, "langfuse_headless_init_enabled", True),
    "langfuse headless partial": ({**LANGFUSE, "langfuse_init_org_id": "acme"}, "langfuse_headless_init_enabled", False),
    # Obot
    "obot off": ({}, "obot_enabled", False),
    "obot on": (OBOT, "obot_enabled", True),
    "obot hostname": ({**OBOT, "obot_subdomain": "mcp"}, "obot_hostname", "mcp.example.com"),
    "obot hostname off": ({}, "obot_hostname", None),
    "obot keycloak on": ({**OBOT, **KEYCLOAK, **OBOT_KC}, "obot_keycloak_enabled", True),
    "obot keycloak without keycloak": ({**OBOT, **OBOT_KC}, "obot_keycloak_enabled", False),
    "obot keycloak without secret": ({**OBOT, **KEYCLOAK, **OBOT_KC, "obot_keycloak_client_secret": None},
                                     "obot_keycloak_enabled", False),
    "obot keycloak base url": ({**OBOT, **KEYCLOAK, **OBOT_KC}, "obot_keycloak_base_url", "https://auth.example.com"),
    "obot keycloak base url off": ({**OBOT, **KEYCLOAK}, "obot_keycloak_base_url", None),
    "obot keycloak issuer": ({**OBOT, **KEYCLOAK, **OBOT_KC}, "obot_keycloak_issuer_url", KC_ISSUER),
    "obot keycloak realm": ({**OBOT, **KEYCLOAK, **OBOT_KC, "keycloak_realm": "lab"}, "obot_keycloak_realm", "lab"),
    "obot keycloak realm off": (OBOT, "obot_keycloak_realm", None),
    "obot backup on": ({**OBOT, **RUSTFS, "obot_s3_access_key": "a", "obot_s3_secret_key": "s"}, "obot_backup_enabled", True),
    "obot backup without rustfs": ({**OBOT, "obot_s3_access_key": "a", "obot_s3_secret_key": "s"},
                                   "obot_backup_enabled", False),
    "obot audit logs on": ({**OBOT, **RUSTFS, "obot_audit_s3_access_key": "a", "obot_audit_s3_secret_key": "s"},
                           "obot_audit_logs_enabled", True),
    "obot audit logs one key": ({**OBOT, **RUSTFS, "obot_audit_s3_access_key": "a"}, "obot_audit_logs_enabled", False),
    "obot workspace bucket on rustfs": ({**OBOT, **RUSTFS, **OBOT_S3}, "obot_storage_buckets", ["obot-workspaces"]),
    "obot workspace bucket named": ({**OBOT, **RUSTFS, **OBOT_S3, "obot_s3_bucket": "obot-ws",
                                     "obot_s3_endpoint": "http://rustfs-svc.storage:9000"}, "obot_storage_buckets", ["obot-ws"]),
    "obot workspace bucket created": ({**OBOT, **RUSTFS, **OBOT_S3, "obot_s3_bucket": "obot-ws"}, "rustfs_buckets", ["obot-ws"]),
    "obot workspace bucket elsewhere": ({**OBOT, **RUSTFS, **OBOT_S3, "obot_s3_endpoint": "https://s3.example.com"},
                                        "obot_storage_buckets", []),
    "obot workspace elsewhere creates nothing": (
        {**OBOT, **RUSTFS, **OBOT_S3, "obot_s3_endpoint": "https://s3.example.com"}, "rustfs_buckets", []),
    "obot directory workspace no bucket": ({**OBOT, **RUSTFS}, "obot_storage_buckets", []),
    "obot workspace bucket obot off": ({**RUSTFS, **OBOT_S3}, "rustfs_buckets", []),
    "obot monitoring on": ({**OBOT, **MONITORING, "obot_monitoring_enabled": True}, "obot_monitoring_enabled", True),
    "obot monitoring without monitoring": ({**OBOT, "obot_monitoring_enabled": True}, "obot_monitoring_enabled", False),
    "obot tracing on": ({**OBOT, **TRACING, "obot_tracing_enabled": True}, "obot_tracing_enabled", True),
    "obot tracing without tracing": ({**OBOT, "obot_tracing_enabled": True}, "obot_tracing_enabled", False),
    "obot litellm by default": ({**OBOT, **LITELLM}, "obot_litellm_enabled", True),
    "obot litellm turned off": ({**OBOT, **LITELLM, "obot_litellm_enabled": False}, "obot_litellm_enabled", False),
    "obot litellm without litellm": (OBOT, "obot_litellm_enabled", False),
    "obot litellm obot off": (LITELLM, "obot_litellm_enabled", False),
}


@pytest.mark.parametrize("settings, key, expected", RULES.values(), ids=RULES.keys())
def test_derived_variable(settings, key, expected):
    value = derived(settings)[key]
    assert value == expected
    assert type(value) is type(expected)  # a real bool, never the last truthy operand


# Every derived key of SEED.md for components, and the extra ones, with its value when all is off.
OFF = {
    "talos_backup_enabled": False, "backup_s3_internal": False, "oidc_enabled": False, "oidc_issuer_url": None,
    "oidc_jwks_uri": None, "oidc_provider_name": None, "oidc_sso_enabled": False, "keycloak_bootstrap_oidc_client": False,
    "infrastructure_enabled": False, "rustfs_enabled": False, "rustfs_hostname": None,
    "loki_deployment_mode": "SingleBinary", "cnpg_enabled": False, "cnpg_barman_plugin_enabled": False,
    "cnpg_backup_enabled": False, "cnpg_pgvector_enabled": False, "keycloak_enabled": False, "keycloak_hostname": None,
    "keycloak_issuer_url": None, "keycloak_internal_issuer_url": None, "keycloak_jwks_uri": None,
    "keycloak_backup_enabled": False, "keycloak_tracing_enabled": False, "keycloak_monitoring_enabled": False,
    "rustfs_monitoring_enabled": False, "loki_monitoring_enabled": False, "grafana_oidc_enabled": False,
    "grafana_hostname": None, "hubble_ui_enabled": False,
    "litellm_enabled": False, "litellm_hostname": None, "litellm_oidc_enabled": False, "litellm_backup_enabled": False,
    "litellm_monitoring_enabled": False, "litellm_tracing_enabled": False, "litellm_langfuse_enabled": False,
    "litellm_langfuse_host": "https://cloud.langfuse.com", "litellm_alerting_enabled": False,
    "litellm_alert_webhook": None, "litellm_providers": [], "litellm_provider_keys": {}, "litellm_models": [],
    "litellm_langfuse_internal": False, "litellm_egress_hosts": [], "litellm_database_url": None,
    "dragonfly_enabled": False, "dragonfly_backup_enabled": False, "dragonfly_monitoring_enabled": False,
    "dragonfly_acl_enabled": False, "langfuse_enabled": False, "langfuse_hostname": None, "langfuse_url": None,
    "langfuse_sso_enabled": False, "langfuse_backup_enabled": False, "langfuse_monitoring_enabled": False,
    "langfuse_tracing_enabled": False, "langfuse_storage_buckets": [], "langfuse_redis_user": "default",
    "langfuse_redis_password": None, "langfuse_smtp_endpoint": None, "langfuse_headless_init_enabled": False,
    "langfuse_init_project_enabled": False, "langfuse_backup_s3_access_key": None, "langfuse_backup_s3_secret_key": None,
    "langfuse_init_org_name": "kubernetes", "langfuse_email_from": "noreply@example.com",
    "langfuse_default_org_id": None, "langfuse_default_project_id": None,
    "obot_enabled": False, "obot_hostname": None, "obot_keycloak_enabled": False, "obot_keycloak_base_url": None,
    "obot_keycloak_issuer_url": None, "obot_keycloak_realm": None, "obot_backup_enabled": False,
    "obot_audit_logs_enabled": False, "obot_monitoring_enabled": False, "obot_tracing_enabled": False,
    "obot_litellm_enabled": False, "obot_database_dsn": None, "obot_metrics_token": None,
    "obot_keycloak_settings": None, "obot_storage_buckets": [],
    "google_idp_enabled": False, "github_idp_enabled": False, "microsoft_idp_enabled": False,
    # Keycloak (issue 16): the embedded database's image and the realm keycloak-config-cli applies.
    "keycloak_postgres_image": "docker.io/library/postgres:17.6-alpine", "keycloak_realm_config": None,
    "keycloak_realm_secrets": {}, "keycloak_realm_job": None,
    # The data layer (issue 15): values the templates read.
    "rustfs_s3_url": None, "rustfs_buckets": [], "cnpg_barman_plugin_chart_version": "0.4.0",
    "dragonfly_acl_users": [], "dragonfly_client_namespaces": [], "cnpg_databases": {},
    "backup_buckets": {"cnpg": "cnpg-backups", "keycloak": "keycloak-backups", "dragonfly": "dragonfly-backups",
                       "litellm": "litellm-backups", "langfuse": "langfuse-postgres-backups",
                       "obot": "obot-postgres-backups", "obot-audit": "obot-audit-logs"},
}


def test_every_derived_key_is_present_when_components_are_off():
    context = derived()
    assert {key: context.get(key, "<missing>") for key in OFF} == OFF


def test_derivers_return_only_documented_or_config_keys():
    config = ClusterConfig.model_validate(CORE)
    produced = {key for deriver in DERIVERS for key in deriver(config, {"nodes": []})}
    extra = produced - set(OFF) - set(ClusterConfig.model_fields) - {"proxmox_vms", "backup_age_public_key"}
    assert extra == set()


def test_every_flag_is_a_bool_with_everything_on():
    context = derived(FULL, nodes=(NODE, WORKER))
    flags = {key: value for key, value in context.items()
             if key.endswith(("_enabled", "_check")) and key not in CoreSettings.model_fields}
    assert {key: type(value).__name__ for key, value in flags.items() if type(value) is not bool} == {}
    # With every prerequisite present, each component flag the user turned on stays on.
    assert [key for key, value in FULL.items() if value is True and context[key] is not True] == []


def test_derivation_is_deterministic_and_does_not_touch_the_config():
    first, second = derived(FULL), derived(FULL)
    assert first == second
    config = ClusterConfig.model_validate({**CORE, **FULL})
    before = config.model_dump()
    for deriver in DERIVERS:
        deriver(config, types.MappingProxyType({"nodes": []}))
    assert config.model_dump() == before


# -- Proxmox VM sizes ------------------------------------------------------------------------

BUILTIN = {
    "controller": {"cores": 4, "sockets": 1, "memory": 8192, "disk_size": 64},
    "worker": {"cores": 8, "sockets": 1, "memory": 16384, "disk_size": 256},
}
# field -> (global default, controller default, node value), each different from every built-in.
LEVELS = {"cores": (6, 2, 12), "sockets": (2, 3, 4), "memory": (4096, 2048, 32768), "disk_size": (100, 80, 500)}
CHAIN = [
    (field, level)
    for field in LEVELS
    for level in ("built-in", "global default", "role default", "node")
]


@pytest.mark.parametrize("field, level", CHAIN, ids=[f"{field}-{level}" for field, level in CHAIN])
def test_vm_size_chain(field, level):
    global_value, controller_value, node_value = LEVELS[field]
    settings: dict = {**PROXMOX}
    controller_node, worker_node = dict(NODE), dict(WORKER)
    if level in ("global default", "role default", "node"):
        settings["proxmox_vm_defaults"] = {field: global_value}
    if level in ("role default", "node"):
        settings["proxmox_vm_controller_defaults"] = {field: controller_value}
    if level == "node":
        controller_node[f"vm_{field}"] = node_value
        worker_node[f"vm_{field}"] = node_value

    context = derived(settings, nodes=(controller_node, worker_node))
    controller_vm, worker_vm = context["proxmox_vms"]

    expected_controller = {
        "built-in": BUILTIN["controller"][field], "global default": global_value,
        "role default": controller_value, "node": controller_value,
    }[level]
    # The worker role has no override here, so the user's global default reaches it (unlike the seed).
    expected_worker = BUILTIN["worker"][field] if level == "built-in" else global_value
    assert context["proxmox_vm_controller_defaults"][field] == expected_controller
    assert context["proxmox_vm_worker_defaults"][field] == expected_worker
    assert controller_vm[field] == (node_value if level == "node" else expected_controller)
    assert worker_vm[field] == (node_value if level == "node" else expected_worker)


def test_worker_role_default_beats_global_default():
    context = derived({**PROXMOX, "proxmox_vm_defaults": {"memory": 4096},
                       "proxmox_vm_worker_defaults": {"memory": 65536}}, nodes=(NODE, WORKER))
    assert context["proxmox_vm_worker_defaults"]["memory"] == 65536
    assert context["proxmox_vm_controller_defaults"]["memory"] == 4096
    assert [vm["memory"] for vm in context["proxmox_vms"]] == [4096, 65536]


def test_vm_defaults_are_plain_dicts_with_every_field():
    context = derived({"proxmox_vm_defaults": {"cores": 6}})
    assert context["proxmox_vm_defaults"] == {"cores": 6, "sockets": 1, "memory": 8192, "disk_size": 128}
    assert context["proxmox_vm_controller_defaults"] == {"cores": 6, "sockets": 1, "memory": 8192, "disk_size": 64}
    assert context["proxmox_vm_worker_defaults"] == {"cores": 6, "sockets": 1, "memory": 16384, "disk_size": 256}
    assert all(type(context[key]) is dict for key in
               ("proxmox_vm_defaults", "proxmox_vm_controller_defaults", "proxmox_vm_worker_defaults"))


def test_vm_startup_settings():
    override = {**WORKER, "vm_startup_order": 1, "vm_startup_delay": 0, "vm_shutdown_delay": 120, "vm_id": 201}
    third = {**WORKER, "name": "k8s-2", "address": "192.168.1.12", "mac_addr": "aa:bb:cc:dd:ee:03"}
    vms = derived(PROXMOX, nodes=(NODE, override, third))["proxmox_vms"]
    assert [(vm["name"], vm["role"], vm["startup_order"], vm["startup_delay"], vm["shutdown_delay"], vm["vm_id"])
            for vm in vms] == [
        ("k8s-0", "controller", 4, 15, 60, None),
        ("k8s-1", "worker", 1, 0, 120, 201),
        ("k8s-2", "worker", 6, 15, 60, None),
    ]
    assert vms[0]["address"] == "192.168.1.10" and vms[0]["mac_addr"] == "aa:bb:cc:dd:ee:01"
