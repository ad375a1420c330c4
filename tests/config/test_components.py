"""Settings groups of the optional components: field types, defaults, secrets, and every dependency
rule (a configuration that breaks one is refused with the rule's key)."""

from __future__ import annotations

import collections

import pytest
from pydantic import ValidationError

from cluster_template.config.base import RULES
from cluster_template.config.components import COMPONENT_GROUPS
from cluster_template.config.core import CoreSettings
from cluster_template.config.model import ClusterConfig, NodesConfig, secret_keys

CORE = {
    "node_cidr": "192.168.1.0/24",
    "cluster_api_addr": "192.168.1.20",
    "cluster_gateway_addr": "192.168.1.21",
    "cluster_dns_gateway_addr": "192.168.1.22",
    "cloudflare_gateway_addr": "192.168.1.23",
    "cloudflare_domain": "example.com",
    "cloudflare_token": "tok-123456",
    "repository_name": "owner/repo",
}
NODE = {"name": "k8s-0", "address": "192.168.1.10", "controller": True, "disk": "/dev/sda",
        "mac_addr": "aa:bb:cc:dd:ee:01", "schematic_id": "a" * 64}

# Each component with everything it needs, so a case can break exactly one thing.
MONITORING = {"monitoring_enabled": True, "grafana_admin_password": "grafana-pass"}
TRACING = {"tracing_enabled": True}
RUSTFS = {"rustfs_enabled": True, "rustfs_secret_key": "rustfs-secret"}
CNPG = {"cnpg_enabled": True}
BARMAN = {**CNPG, "cnpg_barman_plugin_enabled": True}
KEYCLOAK = {"keycloak_enabled": True, "keycloak_admin_password": "admin-pass", "keycloak_db_password": "db-pass"}
DRAGONFLY = {"dragonfly_enabled": True, "dragonfly_password": "df-pass"}
DRAGONFLY_ACL = {**DRAGONFLY, "dragonfly_acl_enabled": True, "dragonfly_litellm_password": "df-litellm",
                 "dragonfly_langfuse_password": "df-langfuse"}
LITELLM = {**CNPG, **DRAGONFLY_ACL, "litellm_enabled": True, "litellm_master_key": "sk-" + "m" * 29,
           "litellm_salt_key": "s" * 32, "litellm_db_password": "litellm-db"}
LANGFUSE = {**CNPG, **DRAGONFLY, **RUSTFS, "langfuse_enabled": True, "langfuse_nextauth_secret": "n" * 32,
            "langfuse_salt": "s" * 32, "langfuse_encryption_key": "0123456789abcdef" * 4,
            "langfuse_postgres_password": "lf-db", "langfuse_clickhouse_password": "lf-ch",
            "langfuse_s3_access_key": "a", "langfuse_s3_secret_key": "s"}
OBOT = {**CNPG, "obot_enabled": True, "obot_db_password": "obot-db", "obot_bootstrap_token": "b" * 64,
        "obot_encryption_key": "A" * 43 + "="}
PROXMOX = {"proxmox_api_url": "https://pve.example.com:8006/api2/json", "proxmox_node": "pve",
           "proxmox_api_token_id": "root@pam!tofu", "proxmox_api_token_secret": "token-secret",
           "tfstate_password": "state-pass"}
BACKUP = {"backup_s3_endpoint": "https://s3.example.com", "backup_s3_bucket": "etcd",
          "backup_s3_access_key": "ak", "backup_s3_secret_key": "sk"}


def rule_issues(settings: dict) -> list[tuple[str, str]]:
    config = ClusterConfig.model_validate({**CORE, **settings})
    nodes = NodesConfig.model_validate({"nodes": [NODE]})
    return [issue for check in RULES for issue in check(config, nodes)]


def without(settings: dict, *keys: str) -> dict:
    return {key: value for key, value in settings.items() if key not in keys}


# -- the groups ----------------------------------------------------------------------------

def test_groups_in_seed_order():
    assert [group.__name__ for group in COMPONENT_GROUPS] == [
        "ObservabilitySettings", "RustFSSettings", "NetworkPoliciesSettings", "TalosBackupSettings",
        "CNPGSettings", "KeycloakSettings", "LiteLLMSettings", "DragonflySettings", "LangfuseSettings",
        "ObotSettings", "OIDCSettings", "ProxmoxSettings",
    ]


def test_no_key_is_defined_twice():
    counts = collections.Counter(key for group in (CoreSettings, *COMPONENT_GROUPS) for key in group.model_fields)
    assert [key for key, count in counts.items() if count > 1] == []
    assert len(ClusterConfig.model_fields) == sum(counts.values())


def test_every_field_has_a_description():
    undocumented = [key for group in COMPONENT_GROUPS for key, field in group.model_fields.items()
                    if not field.description]
    assert undocumented == []


CREDENTIAL_SUFFIXES = ("_password", "_secret", "_secret_key", "_access_key", "_api_key", "_master_key", "_salt_key",
                       "_token", "_encryption_key", "_public_key", "_token_id", "_token_secret", "_webhook_url",
                       "_smtp_url", "_user_email")
NOT_CREDENTIALS = {"rustfs_access_key", "backup_age_public_key",  # an admin user name; a public age key
                   "oidc_refresh_token"}  # a flag: whether the gateway refreshes tokens


def test_credentials_are_secret():
    component_keys = {key for group in COMPONENT_GROUPS for key in group.model_fields}
    credentials = {key for key in component_keys
                   if key.endswith(CREDENTIAL_SUFFIXES) or key in ("langfuse_salt",)} - NOT_CREDENTIALS
    assert credentials - set(secret_keys()) == set()
    assert "langfuse_salt" in secret_keys() and "obot_encryption_key" in secret_keys()
    assert not {"rustfs_enabled", "keycloak_realm", "obot_mcp_namespace"} & set(secret_keys())


def test_minimal_core_config_is_valid_and_components_are_off():
    config = ClusterConfig.model_validate(CORE)
    flags = [key for key in ClusterConfig.model_fields if key.endswith("_enabled") and key not in CoreSettings.model_fields]
    assert {key: getattr(config, key) for key in flags if getattr(config, key)} == {
        "monitoring_alerts_enabled": True, "langfuse_batch_export_enabled": True,
        "langfuse_cache_api_key_enabled": True, "langfuse_cache_prompt_enabled": True,
    }
    assert rule_issues({}) == []


# The defaults themselves are not restated here: docs/CONFIGURATION.md lists every one, and
# tests/foundation/test_generated_files.py fails until a changed default is regenerated there.


@pytest.mark.parametrize("key, value, stored", [
    ("litellm_master_key", "sk-" + "x" * 29, "sk-" + "x" * 29),
    ("langfuse_init_project_public_key", "lf_pk_1234567890", "lf_pk_1234567890"),
    ("langfuse_init_project_secret_key", "lf_sk_1234567890", "lf_sk_1234567890"),
    ("litellm_langfuse_public_key", "pk-lf-1234", "pk-lf-1234"),
    ("obot_encryption_key", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456=", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456="),
    ("proxmox_api_token_id", "terraform@pve!tofu", "terraform@pve!tofu"),
    ("langfuse_encryption_key", "ab" * 32, "ab" * 32),
    ("langfuse_init_org_id", "my-org", "my-org"),
    ("obot_mcp_cpu_requests_quota", 6, "6"),  # a Kubernetes quantity: the number becomes its string
    ("keycloak_tracing_sample_rate", "0.25", 0.25),  # a ratio: the string becomes its number
    ("dragonfly_snapshot_cron", "*/30 1-5 * * 0,6", "*/30 1-5 * * 0,6"),
    ("rustfs_data_volume_size", "100Gi", "100Gi"),
    ("network_policies_mode", "enforce", "enforce"),
    ("proxmox_vm_controller_defaults", {"cores": 64, "memory": 262144},
     {"cores": 64, "sockets": None, "memory": 262144, "disk_size": None}),
    ("microsoft_group_role_mappings", [{"group_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "role": "admin"}],
     [{"group_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "role": "admin"}]),
])
def test_values_accepted(key, value, stored):
    dumped = ClusterConfig.model_validate({**CORE, key: value}).model_dump()[key]
    assert dumped == stored and type(dumped) is type(stored)


@pytest.mark.parametrize("key, value", [
    ("litellm_master_key", "sk-short"),
    ("litellm_master_key", "pk-" + "x" * 40),
    ("langfuse_init_project_public_key", "lf_sk_123"),
    ("langfuse_init_project_secret_key", "secret"),
    ("obot_encryption_key", "too-short="),
    ("proxmox_api_token_id", "root-pam-tofu"),
    ("langfuse_encryption_key", "XYZ" * 20),
    ("langfuse_init_org_id", "My_Org"),
    ("langfuse_init_org_id", "a"),
    ("langfuse_init_project_retention", 0),
    ("langfuse_default_org_role", "GUEST"),
    ("keycloak_db_mode", "postgres"),
    ("keycloak_tracing_sample_rate", 1.5),
    ("keycloak_backup_schedule", "daily at two"),
    ("cnpg_barman_plugin_log_level", "verbose"),
    ("rustfs_data_volume_size", "20GB"),
    ("obot_mcp_cpu_limits_quota", "eight"),
    ("network_policies_mode", "block"),
    ("keycloak_subdomain", "Auth_Server"),
    ("proxmox_vm_defaults", {"cores": 65}),
    ("proxmox_vm_worker_defaults", {"memory": 512}),
    ("proxmox_vm_controller_defaults", {"disk_size": 5000}),
    ("proxmox_vm_defaults", {"sockets": 5}),
    ("proxmox_vm_defaults", {"threads": 2}),
    ("proxmox_vm_advanced", {"bios": "uefi"}),
    ("backup_s3_endpoint", "s3.example.com"),
    ("google_domain_role_mapping", {"domain": "example.com"}),
    ("microsoft_group_role_mappings", [{"group_id": "not-a-uuid", "role": "admin"}]),
    ("cf_account_id", "not-hex"),
    ("monitoring_enabled", "maybe"),
])
def test_values_refused(key, value):
    with pytest.raises(ValidationError) as raised:
        ClusterConfig.model_validate({**CORE, key: value})
    assert raised.value.errors()[0]["loc"][0] == key


# -- dependency rules ----------------------------------------------------------------------

FULL = {
    **MONITORING, **TRACING, **RUSTFS, **BARMAN, **KEYCLOAK, **LITELLM, **LANGFUSE, **OBOT, **PROXMOX, **BACKUP,
    "hubble_enabled": True, "hubble_ui_enabled": True,
    "loki_enabled": True, "loki_monitoring_enabled": True, "loki_s3_access_key": "la", "loki_s3_secret_key": "ls",
    "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g",
    "rustfs_monitoring_enabled": True, "network_policies_enabled": True,
    "cnpg_pgvector_enabled": True, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "ca", "cnpg_s3_secret_key": "cs",
    "keycloak_db_mode": "cnpg", "keycloak_s3_access_key": "ka", "keycloak_s3_secret_key": "ks",
    "keycloak_tracing_enabled": True, "keycloak_monitoring_enabled": True,
    "google_idp_enabled": True, "google_client_id": "gid", "google_client_secret": "gs",
    "github_idp_enabled": True, "github_client_id": "hid", "github_client_secret": "hs",
    "microsoft_idp_enabled": True, "microsoft_client_id": "mid", "microsoft_client_secret": "ms",
    "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "lo",
    "litellm_langfuse_enabled": True, "litellm_langfuse_public_key": "pk-lf-1", "litellm_langfuse_secret_key": "sk-lf-1",
    "litellm_s3_access_key": "lla", "litellm_s3_secret_key": "lls", "litellm_monitoring_enabled": True,
    "litellm_tracing_enabled": True, "litellm_alerting_enabled": True,
    "litellm_slack_webhook_url": "https://hooks.slack.com/services/T/B/X",
    "azure_openai_us_east_api_key": "az", "azure_openai_us_east_resource_name": "my-openai-eastus",
    "dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "da", "dragonfly_s3_secret_key": "ds",
    "dragonfly_monitoring_enabled": True,
    "langfuse_s3_access_key": "lfa", "langfuse_s3_secret_key": "lfs", "langfuse_backup_enabled": True,
    "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "lfk", "langfuse_disable_password_auth": True,
    "langfuse_monitoring_enabled": True, "langfuse_tracing_enabled": True,
    "langfuse_init_org_id": "my-org", "langfuse_init_user_email": "admin@example.com",
    "langfuse_init_user_password": "p" * 16, "langfuse_init_project_id": "my-project",
    "langfuse_init_project_public_key": "lf_pk_abc", "langfuse_init_project_secret_key": "lf_sk_abc",
    "langfuse_default_org_role": "VIEWER", "langfuse_default_project_role": "MEMBER",
    "obot_keycloak_enabled": True, "obot_keycloak_client_secret": "ok",
    "obot_s3_access_key": "oa", "obot_s3_secret_key": "os", "obot_audit_s3_access_key": "wa",
    "obot_audit_s3_secret_key": "ws", "obot_monitoring_enabled": True, "obot_tracing_enabled": True,
    "obot_litellm_enabled": True, "obot_workspace_provider": "s3", "obot_replicas": 2,
    "obot_workspace_s3_access_key": "wa", "obot_workspace_s3_secret_key": "ws",
    "oidc_sso_enabled": True, "oidc_client_secret": "oc",
    "node_vlan_tag": 20, "proxmox_vlan_mode": True,
}


def test_everything_enabled_with_all_prerequisites_is_valid():
    assert rule_issues(FULL) == []


# (valid settings, the same settings broken, the key blamed, a fragment of the message)
CASES = {
    # observability
    "grafana admin password": (MONITORING, without(MONITORING, "grafana_admin_password"),
                               "grafana_admin_password", "is required when monitoring_enabled is true"),
    "hubble ui needs hubble": ({"hubble_enabled": True, "hubble_ui_enabled": True}, {"hubble_ui_enabled": True},
                               "hubble_ui_enabled", "requires hubble_enabled: true"),
    "loki dashboard needs loki": ({**MONITORING, "loki_enabled": True, "loki_monitoring_enabled": True},
                                  {**MONITORING, "loki_monitoring_enabled": True},
                                  "loki_monitoring_enabled", "requires loki_enabled: true"),
    "loki dashboard needs monitoring": ({**MONITORING, "loki_enabled": True, "loki_monitoring_enabled": True},
                                        {"loki_enabled": True, "loki_monitoring_enabled": True},
                                        "loki_monitoring_enabled", "requires monitoring_enabled: true"),
    "grafana oidc needs monitoring": (
        {**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
        {**KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
        "grafana_oidc_enabled", "requires monitoring_enabled: true"),
    "grafana oidc needs keycloak": (
        {**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
        {**MONITORING, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
        "grafana_oidc_enabled", "requires keycloak_enabled: true"),
    "grafana oidc needs secret": (
        {**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True, "grafana_oidc_client_secret": "g"},
        {**MONITORING, **KEYCLOAK, "grafana_oidc_enabled": True},
        "grafana_oidc_client_secret", "is required when grafana_oidc_enabled is true"),
    # RustFS
    "rustfs secret key": (RUSTFS, {"rustfs_enabled": True}, "rustfs_secret_key", "is required when rustfs_enabled"),
    "rustfs dashboard needs rustfs": ({**RUSTFS, **MONITORING, "rustfs_monitoring_enabled": True},
                                      {**MONITORING, "rustfs_monitoring_enabled": True},
                                      "rustfs_monitoring_enabled", "requires rustfs_enabled: true"),
    "rustfs dashboard needs monitoring": ({**RUSTFS, **MONITORING, "rustfs_monitoring_enabled": True},
                                          {**RUSTFS, "rustfs_monitoring_enabled": True},
                                          "rustfs_monitoring_enabled", "requires monitoring_enabled: true"),
    "loki keys together": ({**RUSTFS, "loki_enabled": True, "loki_s3_access_key": "a", "loki_s3_secret_key": "s"},
                           {**RUSTFS, "loki_enabled": True, "loki_s3_access_key": "a"},
                           "loki_s3_secret_key", "must be set together with loki_s3_access_key"),
    "loki keys need rustfs": ({**RUSTFS, "loki_enabled": True, "loki_s3_access_key": "a", "loki_s3_secret_key": "s"},
                              {"loki_enabled": True, "loki_s3_access_key": "a", "loki_s3_secret_key": "s"},
                              "loki_s3_access_key", "requires rustfs_enabled: true"),
    # Talos backup
    "backup pair": (BACKUP, without(BACKUP, "backup_s3_bucket"), "backup_s3_bucket", "must be set together"),
    "backup credentials": (BACKUP, without(BACKUP, "backup_s3_access_key", "backup_s3_secret_key"),
                           "backup_s3_access_key", "is required when backup_s3_endpoint and backup_s3_bucket are set"),
    "backup credentials without endpoint": (
        BACKUP, without(BACKUP, "backup_s3_endpoint", "backup_s3_bucket"),
        "backup_s3_endpoint", "is required when the Talos backup S3 credentials are set"),
    # CNPG
    "barman needs cnpg": (BARMAN, {"cnpg_barman_plugin_enabled": True},
                          "cnpg_barman_plugin_enabled", "requires cnpg_enabled: true"),
    "pgvector needs cnpg": ({**CNPG, "cnpg_pgvector_enabled": True}, {"cnpg_pgvector_enabled": True},
                            "cnpg_pgvector_enabled", "requires cnpg_enabled: true"),
    "cnpg backup needs rustfs": (
        {**BARMAN, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"},
        {**BARMAN, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"},
        "cnpg_backup_enabled", "requires rustfs_enabled: true"),
    "cnpg backup needs barman": (
        {**BARMAN, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"},
        {**CNPG, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"},
        "cnpg_backup_enabled", "requires cnpg_barman_plugin_enabled: true"),
    "cnpg backup needs keys": (
        {**BARMAN, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"},
        {**BARMAN, **RUSTFS, "cnpg_backup_enabled": True},
        "cnpg_s3_access_key", "is required when cnpg_backup_enabled is true"),
    "cnpg keys together": ({**CNPG, "cnpg_s3_access_key": "a", "cnpg_s3_secret_key": "s"},
                           {**CNPG, "cnpg_s3_secret_key": "s"}, "cnpg_s3_access_key", "must be set together"),
    # Keycloak
    "keycloak cnpg mode": ({**KEYCLOAK, **CNPG, "keycloak_db_mode": "cnpg"}, {**KEYCLOAK, "keycloak_db_mode": "cnpg"},
                           "keycloak_db_mode", "requires cnpg_enabled: true (keycloak_db_mode is cnpg)"),
    "keycloak admin password": (KEYCLOAK, without(KEYCLOAK, "keycloak_admin_password"),
                                "keycloak_admin_password", "is required when keycloak_enabled is true"),
    "keycloak db password": (KEYCLOAK, without(KEYCLOAK, "keycloak_db_password"),
                             "keycloak_db_password", "is required when keycloak_enabled is true"),
    "keycloak backup needs rustfs": (
        {**KEYCLOAK, **RUSTFS, "keycloak_s3_access_key": "a", "keycloak_s3_secret_key": "s"},
        {**KEYCLOAK, "keycloak_s3_access_key": "a", "keycloak_s3_secret_key": "s"},
        "keycloak_s3_access_key", "requires rustfs_enabled: true"),
    "keycloak backup keys together": (
        {**KEYCLOAK, **RUSTFS, "keycloak_s3_access_key": "a", "keycloak_s3_secret_key": "s"},
        {**KEYCLOAK, **RUSTFS, "keycloak_s3_access_key": "a"},
        "keycloak_s3_secret_key", "must be set together with keycloak_s3_access_key"),
    "keycloak cnpg backup needs barman": (
        {**KEYCLOAK, **RUSTFS, **BARMAN, "keycloak_db_mode": "cnpg", "keycloak_s3_access_key": "a",
         "keycloak_s3_secret_key": "s"},
        {**KEYCLOAK, **RUSTFS, **CNPG, "keycloak_db_mode": "cnpg", "keycloak_s3_access_key": "a",
         "keycloak_s3_secret_key": "s"},
        "keycloak_s3_access_key", "requires cnpg_barman_plugin_enabled: true"),
    "keycloak tracing needs tracing": ({**KEYCLOAK, **TRACING, "keycloak_tracing_enabled": True},
                                       {**KEYCLOAK, "keycloak_tracing_enabled": True},
                                       "keycloak_tracing_enabled", "requires tracing_enabled: true"),
    "keycloak tracing needs keycloak": ({**KEYCLOAK, **TRACING, "keycloak_tracing_enabled": True},
                                        {**TRACING, "keycloak_tracing_enabled": True},
                                        "keycloak_tracing_enabled", "requires keycloak_enabled: true"),
    "keycloak dashboards need monitoring": ({**KEYCLOAK, **MONITORING, "keycloak_monitoring_enabled": True},
                                            {**KEYCLOAK, "keycloak_monitoring_enabled": True},
                                            "keycloak_monitoring_enabled", "requires monitoring_enabled: true"),
    **{
        f"{provider} idp needs {missing}": (
            {**KEYCLOAK, f"{provider}_idp_enabled": True, f"{provider}_client_id": "id",
             f"{provider}_client_secret": "secret"},
            without({**KEYCLOAK, f"{provider}_idp_enabled": True, f"{provider}_client_id": "id",
                     f"{provider}_client_secret": "secret"}, *drop),
            key, fragment)
        for provider in ("google", "github", "microsoft")
        for missing, drop, key, fragment in (
            ("keycloak", ("keycloak_enabled",), f"{provider}_idp_enabled", "requires keycloak_enabled: true"),
            ("client id", (f"{provider}_client_id",), f"{provider}_client_id", f"is required when {provider}_idp_enabled"),
            ("secret", (f"{provider}_client_secret",), f"{provider}_client_secret",
             f"is required when {provider}_idp_enabled"),
        )
    },
    # LiteLLM
    "litellm needs cnpg": (LITELLM, without(LITELLM, "cnpg_enabled"), "litellm_enabled", "requires cnpg_enabled: true"),
    "litellm needs dragonfly": (LITELLM, {**LITELLM, "dragonfly_enabled": False},
                                "litellm_enabled", "requires dragonfly_enabled: true"),
    "litellm needs dragonfly acl": (LITELLM, without(LITELLM, "dragonfly_acl_enabled"),
                                    "litellm_enabled", "requires dragonfly_acl_enabled: true"),
    "litellm needs its dragonfly password": (LITELLM, without(LITELLM, "dragonfly_litellm_password"),
                                             "dragonfly_litellm_password", "is required when litellm_enabled is true"),
    "litellm master key": (LITELLM, without(LITELLM, "litellm_master_key"),
                           "litellm_master_key", "is required when litellm_enabled is true"),
    "litellm salt key": (LITELLM, without(LITELLM, "litellm_salt_key"), "litellm_salt_key", "is required"),
    "litellm db password": (LITELLM, without(LITELLM, "litellm_db_password"), "litellm_db_password", "is required"),
    "litellm oidc needs keycloak": (
        {**LITELLM, **KEYCLOAK, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
        {**LITELLM, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
        "litellm_oidc_enabled", "requires keycloak_enabled: true"),
    "litellm oidc needs secret": ({**LITELLM, **KEYCLOAK, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
                                  {**LITELLM, **KEYCLOAK, "litellm_oidc_enabled": True},
                                  "litellm_oidc_client_secret", "is required when litellm_oidc_enabled is true"),
    "litellm oidc needs litellm": ({**LITELLM, **KEYCLOAK, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
                                   {**KEYCLOAK, "litellm_oidc_enabled": True, "litellm_oidc_client_secret": "s"},
                                   "litellm_oidc_enabled", "requires litellm_enabled: true"),
    "litellm langfuse keys": (
        {**LITELLM, "litellm_langfuse_enabled": True, "litellm_langfuse_public_key": "pk-lf-1",
         "litellm_langfuse_secret_key": "sk-lf-1"},
        {**LITELLM, "litellm_langfuse_enabled": True, "litellm_langfuse_public_key": "pk-lf-1"},
        "litellm_langfuse_secret_key", "is required when litellm_langfuse_enabled is true"),
    "litellm dashboards need monitoring": ({**LITELLM, **MONITORING, "litellm_monitoring_enabled": True},
                                           {**LITELLM, "litellm_monitoring_enabled": True},
                                           "litellm_monitoring_enabled", "requires monitoring_enabled: true"),
    "litellm tracing needs tracing": ({**LITELLM, **TRACING, "litellm_tracing_enabled": True},
                                      {**LITELLM, "litellm_tracing_enabled": True},
                                      "litellm_tracing_enabled", "requires tracing_enabled: true"),
    "litellm alerting needs a webhook": (
        {**LITELLM, "litellm_alerting_enabled": True,
         "litellm_discord_webhook_url": "https://discord.com/api/webhooks/1/x"},
        {**LITELLM, "litellm_alerting_enabled": True},
        "litellm_alerting_enabled", "requires litellm_slack_webhook_url or litellm_discord_webhook_url"),
    "litellm alerting needs litellm": ({**LITELLM, "litellm_alerting_enabled": True,
                                        "litellm_slack_webhook_url": "https://hooks.slack.com/services/x"},
                                       {"litellm_alerting_enabled": True,
                                        "litellm_slack_webhook_url": "https://hooks.slack.com/services/x"},
                                       "litellm_alerting_enabled", "requires litellm_enabled: true"),
    "litellm alerts go to one webhook": (
        {**LITELLM, "litellm_slack_webhook_url": "https://hooks.slack.com/services/x"},
        {**LITELLM, "litellm_slack_webhook_url": "https://hooks.slack.com/services/x",
         "litellm_discord_webhook_url": "https://discord.com/api/webhooks/1/x"},
        "litellm_discord_webhook_url", "cannot be set together with litellm_slack_webhook_url"),
    "azure realtime needs the us east2 key": (
        {**LITELLM, "azure_openai_us_east2_api_key": "k", "azure_openai_us_east2_resource_name": "r",
         "azure_openai_realtime_api_base": "https://rt.openai.azure.com"},
        {**LITELLM, "azure_openai_realtime_api_base": "https://rt.openai.azure.com"},
        "azure_openai_realtime_api_base", "requires azure_openai_us_east2_api_key"),
    "litellm backup needs rustfs": (
        {**LITELLM, **RUSTFS, **BARMAN, "litellm_s3_access_key": "a", "litellm_s3_secret_key": "s"},
        {**LITELLM, **BARMAN, "litellm_s3_access_key": "a", "litellm_s3_secret_key": "s"},
        "litellm_s3_access_key", "requires rustfs_enabled: true"),
    "litellm backup needs barman": (
        {**LITELLM, **RUSTFS, **BARMAN, "litellm_s3_access_key": "a", "litellm_s3_secret_key": "s"},
        {**LITELLM, **RUSTFS, "litellm_s3_access_key": "a", "litellm_s3_secret_key": "s"},
        "litellm_s3_access_key", "requires cnpg_barman_plugin_enabled: true"),
    "azure key needs its endpoint": (
        {"azure_anthropic_api_key": "k", "azure_anthropic_api_base": "https://x.services.ai.azure.com"},
        {"azure_anthropic_api_key": "k"}, "azure_anthropic_api_base", "must be set together"),
    # Dragonfly
    "dragonfly password": (DRAGONFLY, {"dragonfly_enabled": True}, "dragonfly_password", "is required"),
    "dragonfly acl needs dragonfly": ({**DRAGONFLY, "dragonfly_acl_enabled": True}, {"dragonfly_acl_enabled": True},
                                      "dragonfly_acl_enabled", "requires dragonfly_enabled: true"),
    "dragonfly monitoring needs monitoring": ({**DRAGONFLY, **MONITORING, "dragonfly_monitoring_enabled": True},
                                              {**DRAGONFLY, "dragonfly_monitoring_enabled": True},
                                              "dragonfly_monitoring_enabled", "requires monitoring_enabled: true"),
    "dragonfly backup needs rustfs": (
        {**DRAGONFLY, **RUSTFS, "dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "a",
         "dragonfly_s3_secret_key": "s"},
        {**DRAGONFLY, "dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "a", "dragonfly_s3_secret_key": "s"},
        "dragonfly_backup_enabled", "requires rustfs_enabled: true"),
    "dragonfly backup needs keys": (
        {**DRAGONFLY, **RUSTFS, "dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "a",
         "dragonfly_s3_secret_key": "s"},
        {**DRAGONFLY, **RUSTFS, "dragonfly_backup_enabled": True},
        "dragonfly_s3_access_key", "is required when dragonfly_backup_enabled is true"),
    # Langfuse
    "langfuse needs cnpg": (LANGFUSE, without(LANGFUSE, "cnpg_enabled"), "langfuse_enabled", "requires cnpg_enabled: true"),
    "langfuse needs dragonfly": (LANGFUSE, without(LANGFUSE, "dragonfly_enabled"),
                                 "langfuse_enabled", "requires dragonfly_enabled: true"),
    **{f"langfuse {key}": (LANGFUSE, without(LANGFUSE, key), key, "is required when langfuse_enabled is true")
       for key in ("langfuse_nextauth_secret", "langfuse_salt", "langfuse_encryption_key",
                   "langfuse_postgres_password", "langfuse_clickhouse_password")},
    "langfuse acl password": ({**LANGFUSE, **DRAGONFLY_ACL}, without({**LANGFUSE, **DRAGONFLY_ACL},
                                                                     "dragonfly_langfuse_password"),
                              "dragonfly_langfuse_password", "is required when langfuse_enabled and dragonfly_acl_enabled"),
    "langfuse s3 keys": (LANGFUSE, without(LANGFUSE, "langfuse_s3_access_key", "langfuse_s3_secret_key"),
                         "langfuse_s3_access_key", "is required when langfuse_enabled is true"),
    "langfuse needs rustfs": (LANGFUSE, without(LANGFUSE, "rustfs_enabled", "rustfs_secret_key"),
                              "langfuse_enabled", "requires rustfs_enabled: true"),
    "langfuse queues are not evicted": (LANGFUSE, {**LANGFUSE, "dragonfly_cache_mode": True},
                                        "langfuse_enabled", "requires dragonfly_cache_mode: false"),
    "clickhouse replicas need cluster mode": (
        {**LANGFUSE, "langfuse_clickhouse_replicas": 3, "langfuse_clickhouse_cluster_enabled": True},
        {**LANGFUSE, "langfuse_clickhouse_replicas": 3}, "langfuse_clickhouse_replicas",
        "requires langfuse_clickhouse_cluster_enabled: true"),
    "langfuse backup needs barman": (
        {**LANGFUSE, **RUSTFS, **BARMAN, "langfuse_s3_access_key": "a", "langfuse_s3_secret_key": "s",
         "langfuse_backup_enabled": True},
        {**LANGFUSE, **RUSTFS, "langfuse_s3_access_key": "a", "langfuse_s3_secret_key": "s",
         "langfuse_backup_enabled": True},
        "langfuse_backup_enabled", "requires cnpg_barman_plugin_enabled: true"),
    "langfuse backup needs rustfs": (
        {**LANGFUSE, **BARMAN, **RUSTFS, "langfuse_s3_access_key": "a", "langfuse_s3_secret_key": "s",
         "langfuse_backup_enabled": True},
        {**without(LANGFUSE, "rustfs_enabled"), **BARMAN, "langfuse_backup_enabled": True},
        "langfuse_backup_enabled", "requires rustfs_enabled: true"),
    "langfuse backup keys together": (
        {**LANGFUSE, **BARMAN, **RUSTFS, "langfuse_s3_access_key": "a", "langfuse_s3_secret_key": "s",
         "langfuse_backup_enabled": True, "langfuse_backup_s3_access_key": "ba", "langfuse_backup_s3_secret_key": "bs"},
        {**LANGFUSE, **BARMAN, **RUSTFS, "langfuse_s3_access_key": "a", "langfuse_s3_secret_key": "s",
         "langfuse_backup_enabled": True, "langfuse_backup_s3_access_key": "ba"},
        "langfuse_backup_s3_secret_key", "must be set together"),
    "langfuse sso needs keycloak": (
        {**LANGFUSE, **KEYCLOAK, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "s"},
        {**LANGFUSE, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "s"},
        "langfuse_sso_enabled", "requires keycloak_enabled: true"),
    "langfuse sso needs secret": (
        {**LANGFUSE, **KEYCLOAK, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "s"},
        {**LANGFUSE, **KEYCLOAK, "langfuse_sso_enabled": True},
        "langfuse_keycloak_client_secret", "is required when langfuse_sso_enabled is true"),
    "langfuse sso-only needs sso": (
        {**LANGFUSE, **KEYCLOAK, "langfuse_sso_enabled": True, "langfuse_keycloak_client_secret": "s",
         "langfuse_disable_password_auth": True},
        {**LANGFUSE, "langfuse_disable_password_auth": True},
        "langfuse_disable_password_auth", "requires langfuse_sso_enabled: true"),
    "langfuse dashboards need monitoring": ({**LANGFUSE, **MONITORING, "langfuse_monitoring_enabled": True},
                                            {**LANGFUSE, "langfuse_monitoring_enabled": True},
                                            "langfuse_monitoring_enabled", "requires monitoring_enabled: true"),
    "langfuse tracing needs tracing": ({**LANGFUSE, **TRACING, "langfuse_tracing_enabled": True},
                                       {**LANGFUSE, "langfuse_tracing_enabled": True},
                                       "langfuse_tracing_enabled", "requires tracing_enabled: true"),
    "langfuse headless init together": (
        {"langfuse_init_org_id": "org", "langfuse_init_user_email": "a@example.com", "langfuse_init_user_password": "p" * 16},
        {"langfuse_init_org_id": "org", "langfuse_init_user_email": "a@example.com"},
        "langfuse_init_user_password", "must be set together"),
    "langfuse project keys need a project": (
        {"langfuse_init_org_id": "org", "langfuse_init_user_email": "a@example.com", "langfuse_init_user_password": "p" * 16,
         "langfuse_init_project_id": "proj", "langfuse_init_project_public_key": "lf_pk_1",
         "langfuse_init_project_secret_key": "lf_sk_1"},
        {"langfuse_init_org_id": "org", "langfuse_init_user_email": "a@example.com", "langfuse_init_user_password": "p" * 16,
         "langfuse_init_project_public_key": "lf_pk_1", "langfuse_init_project_secret_key": "lf_sk_1"},
        "langfuse_init_project_id", "is required when the initial project API keys are set"),
    "langfuse project needs an organization": (
        {"langfuse_init_org_id": "org", "langfuse_init_user_email": "a@example.com", "langfuse_init_user_password": "p" * 16,
         "langfuse_init_project_id": "proj"},
        {"langfuse_init_project_id": "proj"},
        "langfuse_init_org_id", "is required when langfuse_init_project_id is set"),
    "langfuse default project role needs a project": (
        {"langfuse_default_project_id": "proj", "langfuse_default_project_role": "VIEWER"},
        {"langfuse_default_project_role": "VIEWER"},
        "langfuse_default_project_role", "requires langfuse_default_project_id or langfuse_init_project_id"),
    "langfuse default org role needs an org": (
        {"langfuse_default_org_id": "org", "langfuse_default_org_role": "NONE"}, {"langfuse_default_org_role": "NONE"},
        "langfuse_default_org_role", "requires langfuse_default_org_id or langfuse_init_org_id"),
    # Obot
    "obot needs cnpg": (OBOT, without(OBOT, "cnpg_enabled"), "obot_enabled", "requires cnpg_enabled: true"),
    **{f"obot {key}": (OBOT, without(OBOT, key), key, "is required when obot_enabled is true")
       for key in ("obot_db_password", "obot_bootstrap_token", "obot_encryption_key")},
    "obot s3 workspace keys": (
        {**OBOT, **RUSTFS, "obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "a",
         "obot_workspace_s3_secret_key": "s"},
        {**OBOT, **RUSTFS, "obot_workspace_provider": "s3"},
        "obot_workspace_s3_access_key", "is required when obot_workspace_provider is s3"),
    "obot workspace keys need the s3 workspace": (
        {**OBOT, **RUSTFS, "obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "a",
         "obot_workspace_s3_secret_key": "s"},
        {**OBOT, "obot_workspace_s3_access_key": "a", "obot_workspace_s3_secret_key": "s"},
        "obot_workspace_s3_secret_key", "is used only with obot_workspace_provider: s3 (it is directory)"),
    "obot replicas need s3 workspace": (
        {**OBOT, **RUSTFS, "obot_replicas": 3, "obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "a",
         "obot_workspace_s3_secret_key": "s"},
        {**OBOT, "obot_replicas": 3}, "obot_replicas", "requires obot_workspace_provider: s3"),
    "obot backup needs rustfs": ({**OBOT, **RUSTFS, **BARMAN, "obot_s3_access_key": "a", "obot_s3_secret_key": "s"},
                                 {**OBOT, **BARMAN, "obot_s3_access_key": "a", "obot_s3_secret_key": "s"},
                                 "obot_s3_access_key", "requires rustfs_enabled: true"),
    "obot backup needs barman": ({**OBOT, **RUSTFS, **BARMAN, "obot_s3_access_key": "a", "obot_s3_secret_key": "s"},
                                 {**OBOT, **RUSTFS, "obot_s3_access_key": "a", "obot_s3_secret_key": "s"},
                                 "obot_s3_access_key", "requires cnpg_barman_plugin_enabled: true"),
    "obot audit logs need rustfs": (
        {**OBOT, **RUSTFS, "obot_audit_s3_access_key": "a", "obot_audit_s3_secret_key": "s"},
        {**OBOT, "obot_audit_s3_access_key": "a", "obot_audit_s3_secret_key": "s"},
        "obot_audit_s3_access_key", "requires rustfs_enabled: true"),
    "obot keycloak needs keycloak": (
        {**OBOT, **KEYCLOAK, "obot_keycloak_enabled": True, "obot_keycloak_client_secret": "s"},
        {**OBOT, "obot_keycloak_enabled": True, "obot_keycloak_client_secret": "s"},
        "obot_keycloak_enabled", "requires keycloak_enabled: true"),
    "obot keycloak needs client secret": (
        {**OBOT, **KEYCLOAK, "obot_keycloak_enabled": True, "obot_keycloak_client_secret": "s"},
        {**OBOT, **KEYCLOAK, "obot_keycloak_enabled": True},
        "obot_keycloak_client_secret", "is required when obot_keycloak_enabled is true"),
    "obot dashboards need monitoring": ({**OBOT, **MONITORING, "obot_monitoring_enabled": True},
                                        {**OBOT, "obot_monitoring_enabled": True},
                                        "obot_monitoring_enabled", "requires monitoring_enabled: true"),
    "obot tracing needs tracing": ({**OBOT, **TRACING, "obot_tracing_enabled": True},
                                   {**OBOT, "obot_tracing_enabled": True},
                                   "obot_tracing_enabled", "requires tracing_enabled: true"),
    "obot litellm needs litellm": ({**OBOT, **LITELLM, "obot_litellm_enabled": True},
                                   {**OBOT, "obot_litellm_enabled": True},
                                   "obot_litellm_enabled", "requires litellm_enabled: true"),
    # OIDC
    "oidc pair": ({"oidc_issuer_url": "https://id.example.com", "oidc_jwks_uri": "https://id.example.com/jwks"},
                  {"oidc_issuer_url": "https://id.example.com"}, "oidc_jwks_uri", "must be set together"),
    "oidc sso needs an issuer": ({**KEYCLOAK, "oidc_sso_enabled": True, "oidc_client_secret": "s"},
                                 {"oidc_sso_enabled": True, "oidc_client_secret": "s"},
                                 "oidc_sso_enabled", "requires oidc_issuer_url, or keycloak_enabled: true"),
    "oidc sso needs a secret": ({**KEYCLOAK, "oidc_sso_enabled": True, "oidc_client_secret": "s"},
                                {**KEYCLOAK, "oidc_sso_enabled": True},
                                "oidc_client_secret", "is required when oidc_sso_enabled is true"),
    # Proxmox
    "proxmox pair": (PROXMOX, without(PROXMOX, "proxmox_node"), "proxmox_node", "must be set together"),
    "proxmox token together": (PROXMOX, without(PROXMOX, "proxmox_api_token_secret"),
                               "proxmox_api_token_secret", "must be set together with proxmox_api_token_id"),
    "proxmox token required": (PROXMOX, without(PROXMOX, "proxmox_api_token_id", "proxmox_api_token_secret"),
                               "proxmox_api_token_id", "is required when proxmox_api_url and proxmox_node are set"),
    "proxmox state password": (PROXMOX, without(PROXMOX, "tfstate_password"),
                               "tfstate_password", "is required when proxmox_api_url and proxmox_node are set"),
    "proxmox vlan mode needs a tag": ({"proxmox_vlan_mode": True, "node_vlan_tag": 20}, {"proxmox_vlan_mode": True},
                                      "proxmox_vlan_mode", "requires node_vlan_tag"),
}


@pytest.mark.parametrize("valid, broken, key, fragment", CASES.values(), ids=CASES.keys())
def test_dependency_rule(valid, broken, key, fragment):
    assert rule_issues(valid) == []
    issues = rule_issues(broken)
    assert any(blamed == key and fragment in message for blamed, message in issues), issues


def test_unused_settings_of_a_disabled_component_are_not_errors():
    # Credentials and S3 keys of a component that is off are simply unused: no RustFS requirement.
    parked = {"keycloak_s3_access_key": "a", "keycloak_s3_secret_key": "s", "litellm_s3_access_key": "a",
              "litellm_s3_secret_key": "s", "obot_s3_access_key": "a", "obot_s3_secret_key": "s",
              "obot_workspace_s3_access_key": "a", "obot_workspace_s3_secret_key": "s",
              "litellm_master_key": "sk-" + "x" * 40, "keycloak_db_mode": "cnpg"}
    assert rule_issues(parked) == []


def test_message_names_the_reason():
    issues = dict(rule_issues({**KEYCLOAK, "keycloak_db_mode": "cnpg"}))
    assert issues == {"keycloak_db_mode": "requires cnpg_enabled: true (keycloak_db_mode is cnpg)"}
