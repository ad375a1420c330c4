"""No key that does nothing: every key of the config model, set away from its default (with its
prerequisites), changes the rendered tree, or is marked in the model as read by a task (and that
task's code reads it).

The sample configuration is the base. For each key the test picks a value away from the default
(`VALUES`, else one derived from the field's type), and the settings it needs: the first of the
prerequisite bundles of its settings group (`BUNDLES`; keys with other needs in `PREREQUISITES`) with
which both the configuration without the key and the one with it are valid. Both are rendered
in-process (the plaintext render, no encryption or validation) and must differ for one of them. The
templates include the fixture app of the database macro (tests/components/fixtures/database-app),
standing in for the applications whose databases the macro renders. No key is exempt.
"""

from __future__ import annotations

import shutil
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from cluster_template.config.base import RULES
from cluster_template.config.components import COMPONENT_GROUPS
from cluster_template.config.core import CoreSettings
from cluster_template.config.load import Config
from cluster_template.config.model import ClusterConfig, NodesConfig
from cluster_template.config.types import is_secret_field, reading_task
from cluster_template.derive import derive
from cluster_template.inputs import read_local_inputs
from cluster_template.render import make_environment, render_templates
from tests.components import test_keycloak as keycloak
from tests.components import test_langfuse as langfuse
from tests.components import test_litellm as litellm
from tests.components import test_obot as obot
from tests.components.test_data_layer import install_database_fixture
from tests.conftest import REPO, copy_project

pytestmark = pytest.mark.slow

MONITORING = {"monitoring_enabled": True, "grafana_admin_password": "grafana-admin-pass"}
RUSTFS = {"rustfs_enabled": True, "rustfs_secret_key": "rustfs-secret-key"}
LOKI = {"loki_enabled": True}
LOKI_S3 = {**LOKI, **RUSTFS, "loki_s3_access_key": "loki-access", "loki_s3_secret_key": "loki-secret-key"}
TRACING = {"tracing_enabled": True}
HUBBLE = {"hubble_enabled": True}
OIDC = {"oidc_issuer_url": "https://id.example.com/realms/main",
        "oidc_jwks_uri": "https://id.example.com/realms/main/protocol/openid-connect/certs"}
SSO = {**OIDC, "oidc_sso_enabled": True, "oidc_client_secret": "sso-client-secret"}
BACKUP = {"backup_s3_endpoint": "https://s3.example.com", "backup_s3_bucket": "etcd",
          "backup_s3_access_key": "backup-access", "backup_s3_secret_key": "backup-secret"}
CNPG = {"cnpg_enabled": True}
PLUGIN = {**CNPG, "cnpg_barman_plugin_enabled": True}
CNPG_BACKUP = {**PLUGIN, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "cnpg-access",
               "cnpg_s3_secret_key": "cnpg-secret-key"}
DRAGONFLY = {"dragonfly_enabled": True, "dragonfly_password": "df-default-pass"}
DRAGONFLY_BACKUP = {**DRAGONFLY, **RUSTFS, "dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "df-access",
                    "dragonfly_s3_secret_key": "df-secret-key"}
DRAGONFLY_ACL = {**DRAGONFLY, "dragonfly_acl_enabled": True}
PROXMOX = {"proxmox_api_url": "https://pve.example.com:8006/api2/json", "proxmox_node": "pve",
           "proxmox_api_token_id": "root@pam!tofu", "proxmox_api_token_secret": "token-secret",
           "tfstate_password": "state-pass"}
BGP = {"cilium_bgp_router_addr": "192.168.1.1", "cilium_bgp_router_asn": 64513, "cilium_bgp_node_asn": 64514}
UNIFI = {"unifi_host": "https://192.168.1.1", "unifi_api_key": "unifi-api-key"}
NETWORK_POLICIES = {"network_policies_enabled": True}

# The applications' settings, as their own tests enable them.
LITELLM, LANGFUSE = litellm.LITELLM, langfuse.LANGFUSE
APPS = (LITELLM, *({**LITELLM, **provider} for provider in litellm.PROVIDER_SETTINGS.values()),
        {**LITELLM, **litellm.SSO}, {**LITELLM, **litellm.LANGFUSE_CALLBACKS}, {**LITELLM, **litellm.BACKUP},
        litellm.FULL, LANGFUSE, {**LANGFUSE, **langfuse.HEADLESS}, {**LANGFUSE, **langfuse.HEADLESS, **langfuse.PROJECT},
        {**LANGFUSE, **langfuse.SSO}, langfuse.FULL)
KEYCLOAK = keycloak.KEYCLOAK
KEYCLOAK_BUNDLES = (KEYCLOAK, {**KEYCLOAK, **keycloak.IDPS}, {**KEYCLOAK, **keycloak.IDPS, **keycloak.MAPPERS},
                    {**KEYCLOAK, **keycloak.SMTP}, {**KEYCLOAK, **keycloak.BACKUP}, keycloak.EMBEDDED_FULL,
                    keycloak.CNPG_FULL)
OBOT_BUNDLES = (obot.OBOT, {**obot.OBOT, **obot.OBOT_SSO}, {**obot.OBOT, **obot.OBOT_BACKUP},
                {**obot.OBOT, **obot.OBOT_AUDIT}, {**obot.OBOT, **obot.S3_WORKSPACE}, obot.ALL_ON)
# The s3 workspace without the audit-log store, whose keys must be the workspace's.
OBOT_S3_WORKSPACE = {**obot.OBOT, **RUSTFS, "obot_workspace_provider": "s3", "obot_workspace_s3_access_key": "ws-access",
                     "obot_workspace_s3_secret_key": "ws-secret-key"}
KEYCLOAK_SMTP = {**KEYCLOAK, **keycloak.SMTP}
KEYCLOAK_IDPS = {**KEYCLOAK, **keycloak.IDPS}
GRAFANA_SSO = {**MONITORING, **litellm.KEYCLOAK, "grafana_oidc_enabled": True,
               "grafana_oidc_client_secret": "grafana-oidc-secret"}
LANGFUSE_BACKUP = {**langfuse.FULL, "langfuse_backup_s3_access_key": "lf-backup-access",
                   "langfuse_backup_s3_secret_key": "lf-backup-secret"}
# Tried in this order (those with a key of the same settings group, then none); every valid one until
# the render changes.
BUNDLES = (MONITORING, GRAFANA_SSO, RUSTFS, LOKI, TRACING, HUBBLE, OIDC, SSO, BACKUP, CNPG, PLUGIN, CNPG_BACKUP, DRAGONFLY,
           DRAGONFLY_BACKUP, DRAGONFLY_ACL, PROXMOX, BGP, UNIFI, NETWORK_POLICIES, *APPS, *KEYCLOAK_BUNDLES, *OBOT_BUNDLES)
# Keys whose effect shows only with another component on.
PREREQUISITES: dict[str, dict[str, Any]] = {
    "storage_class": MONITORING,
    "rustfs_monitoring_enabled": {**RUSTFS, **MONITORING},
    "loki_monitoring_enabled": {**LOKI, **MONITORING},
    "loki_s3_access_key": LOKI_S3, "loki_s3_secret_key": LOKI_S3,
    "dragonfly_monitoring_enabled": {**DRAGONFLY, **MONITORING},
    "dragonfly_s3_endpoint": DRAGONFLY_BACKUP, "dragonfly_snapshot_cron": DRAGONFLY_BACKUP,
    "dragonfly_appcache_password": DRAGONFLY_ACL,
    "backup_s3_region": BACKUP, "backup_age_public_key": BACKUP,
    "cnpg_s3_access_key": CNPG_BACKUP, "cnpg_s3_secret_key": CNPG_BACKUP,
    "network_policies_mode": NETWORK_POLICIES,
    "hubble_ui_enabled": HUBBLE,
    "cilium_bgp_hold_time": BGP, "cilium_bgp_keepalive_time": BGP, "cilium_bgp_graceful_restart": BGP,
    "cilium_bgp_graceful_restart_time": {**BGP, "cilium_bgp_graceful_restart": True},
    "unifi_site": UNIFI,
    # The database macro's settings show in the fixture app's database (the applications' stand-in).
    "cnpg_storage_class": CNPG, "cnpg_pgvector_enabled": CNPG,
    "cnpg_pgvector_image": {**CNPG, "cnpg_pgvector_enabled": True},
    "cnpg_pgvector_version": {**CNPG, "cnpg_pgvector_enabled": True},
    "langfuse_backup_s3_access_key": LANGFUSE_BACKUP, "langfuse_backup_s3_secret_key": LANGFUSE_BACKUP,
    "litellm_slack_webhook_url": {**LITELLM, "litellm_alerting_enabled": True,
                                  "litellm_slack_webhook_url": "https://hooks.slack.com/services/T0/B0/first"},
    "litellm_discord_webhook_url": litellm.FULL,
    "proxmox_vlan_mode": {**PROXMOX, "node_vlan_tag": 20},
    "proxmox_ssh_key_file": {**PROXMOX, "proxmox_ssh_host": "pve.example.com"},
    "proxmox_ssh_host_key": {**PROXMOX, "proxmox_ssh_host": "pve.example.com"},
    "obot_workspace_provider": {**obot.OBOT, **RUSTFS}, "obot_workspace_s3_access_key": OBOT_S3_WORKSPACE,
    "obot_workspace_s3_secret_key": OBOT_S3_WORKSPACE, "obot_litellm_enabled": {**obot.OBOT, **LITELLM},
    "keycloak_smtp_from": KEYCLOAK_SMTP, "keycloak_smtp_reply_to": KEYCLOAK_SMTP,
    "keycloak_smtp_envelope_from": KEYCLOAK_SMTP,
    "keycloak_smtp_ssl": {**KEYCLOAK_SMTP, "keycloak_smtp_starttls": False},
    "google_domain_role_mapping": KEYCLOAK_IDPS, "microsoft_group_role_mappings": KEYCLOAK_IDPS,
}
# Settings that go only with the key's new value (refused without it): the s3 workspace's keys.
COMPANIONS: dict[str, dict[str, Any]] = {
    "obot_workspace_provider": {name: OBOT_S3_WORKSPACE[name]
                                for name in ("obot_workspace_s3_access_key", "obot_workspace_s3_secret_key")},
}
# Values for keys a generic value does not fit.
VALUES: dict[str, Any] = {
    "node_cidr": "192.168.0.0/23",
    "node_dns_servers": ["9.9.9.9"], "node_ntp_servers": ["192.168.1.1"],
    "node_default_gateway": "192.168.1.254", "node_vlan_tag": 20,
    "cluster_pod_cidr": "10.52.0.0/16", "cluster_svc_cidr": "10.53.0.0/16",
    "cluster_api_tls_sans": ["api.example.com"],
    "cilium_lb_pool_cidr": "192.168.1.16/28",
    "cilium_bgp_router_asn": 64600, "cilium_bgp_node_asn": 64601, "cilium_bgp_graceful_restart_time": 240,
    "cilium_bgp_hold_time": 90, "cilium_bgp_keepalive_time": 5,
    "repository_name": "someone/elsewhere", "repository_branch": "production",
    "cloudflare_domain": "example.org", "cloudflare_token": "another-cloudflare-token",
    "talos_version": "v1.12.10", "kubernetes_version": "v1.35.3",
    "cnpg_postgres_image": "ghcr.io/cloudnative-pg/postgresql:18.0-standard-trixie",
    "cnpg_pgvector_image": "ghcr.io/cloudnative-pg/pgvector:0.8.0-18-trixie", "cnpg_pgvector_version": "0.8.0",
    "cnpg_barman_plugin_version": "0.9.0",
    "dragonfly_version": "v1.35.0", "dragonfly_operator_version": "1.3.0", "dragonfly_maxmemory": "768mb",
    "dragonfly_memory_request": "512Mi",
    "dragonfly_s3_endpoint": "s3.example.com:443",
    "oidc_scopes": ["openid", "groups"], "oidc_cookie_domain": "example.com",
    "backup_age_public_key": "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs7lk3m0",
    "proxmox_vm_defaults": {"cores": 6}, "proxmox_vm_controller_defaults": {"cores": 6},
    "proxmox_vm_worker_defaults": {"cores": 6}, "proxmox_vm_advanced": {"machine": "i440fx"},
    "proxmox_api_token_id": "tofu@pve!other",
    "proxmox_ssh_key_file": "~/.ssh/pve", "proxmox_ssh_host_key": "SHA256:" + "A" * 43,
    "oidc_logout_path": "/signout",
    "langfuse_salt": "another-salt-0123456789abcdef012345", "langfuse_encryption_key": "fedcba9876543210" * 4,
    "langfuse_smtp_url": "smtp://mailer:pass-2@mail.example.com:587", "langfuse_email_from": "langfuse@example.com",
    "langfuse_init_user_email": "root@example.com", "langfuse_init_project_public_key": "lf_pk_other",
    "langfuse_init_project_secret_key": "lf_sk_other", "litellm_master_key": "sk-" + "n" * 32,
    "azure_openai_us_east_api_version": "2024-10-21", "azure_openai_us_east2_api_version": "2024-10-21",
    "litellm_slack_webhook_url": "https://hooks.slack.com/services/T0/B0/second",
    "litellm_discord_webhook_url": "https://discord.com/api/webhooks/2/another-hook",
    "obot_encryption_key": "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqpon9876=",
    "obot_mcp_default_memory_request": "384Mi", "obot_mcp_default_memory_limit": "768Mi", "obot_mcp_max_cpu": "2",
    "obot_tool_registries": ["/obot-tools/tools", "github.com/example/tools"],
    "keycloak_config_cli_version": "6.4.1-26.1.0",
    "keycloak_realm_roles": [{"name": "auditor"}], "keycloak_realm_groups": [{"name": "operations"}],
    "keycloak_smtp_from": "keycloak@example.com", "keycloak_smtp_reply_to": "help@example.com",
    "keycloak_smtp_envelope_from": "bounces@example.com",
    "google_domain_role_mapping": {"domain": "example.net", "role": "auditor"},
    "microsoft_group_role_mappings": [{"group_id": keycloak.GROUP_ID, "role": "auditor"}],
}
# Strings tried in order for the other text keys; the first the field accepts is used.
TEXT_CANDIDATES = ("alternative", "99Gi", "14d", "250m", "https://alt.example.com", "192.168.1.99",
                   "alt.example.com", "0 3 * * *", "v1.2.4", "1.2.4")


def read_by(key: str) -> str | None:
    return reading_task(ClusterConfig.model_fields[key])


class Renders:
    """The plaintext render of the sample configuration plus some settings, cached."""

    def __init__(self, root: Path):
        self.root = root
        yaml = YAML(typ="safe", pure=True)
        self.sample = yaml.load((root / "cluster.yaml").read_text())
        self.nodes = NodesConfig.model_validate(yaml.load((root / "nodes.yaml").read_text()))
        self.local = read_local_inputs(root, deploy_key_required=False)
        self.environment = make_environment(root / "templates/config")
        self._cache: dict[str, dict[str, bytes]] = {}

    def config(self, settings: dict[str, Any]) -> Config | None:
        """The validated configuration, None when the model or a rule refuses it."""
        try:
            cluster = ClusterConfig.model_validate({**self.sample, **settings})
        except ValidationError:
            return None
        if any(True for check in RULES for _ in check(cluster, self.nodes)):
            return None
        return Config(cluster, self.nodes)

    def __call__(self, config: Config) -> dict[str, bytes]:
        key = config.cluster.model_dump_json()
        if key not in self._cache:
            self._cache[key] = render_templates(self.root / "templates/config", derive(config, self.local),
                                                self.environment)
        return self._cache[key]


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> Renders:
    project = copy_project(tmp_path_factory.mktemp("every-key") / "repo")
    install_database_fixture(project)
    assert project.inv("init").returncode == 0
    shutil.copy(project.root / "templates/samples/cloudflare-tunnel.sample.json", project.root / "cloudflare-tunnel.json")
    return Renders(project.root)


def candidates(key: str) -> list[Any]:
    """Values away from the key's default, most likely to be accepted first."""
    if key in VALUES:
        return [VALUES[key]]
    info = ClusterConfig.model_fields[key]
    default = info.get_default(call_default_factory=True)
    annotation = info.annotation
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)] if union else [annotation]
    kind = typing.get_origin(options[0]) or options[0]
    if kind is typing.Annotated:
        kind = typing.get_args(options[0])[0]
    if kind is bool:
        return [not default] if isinstance(default, bool) else [True, False]
    if kind is typing.Literal:
        return [choice for choice in typing.get_args(options[0]) if choice != default]
    if kind is int:
        return [default + 1, default * 2] if isinstance(default, int) else [1, 2, 30, 64600]
    if kind is float:
        return [0.5 if default != 0.5 else 0.25]
    if is_secret_field(info):
        return ["a-credential-for-" + key.replace("_", "-")]
    return [text for text in TEXT_CANDIDATES if text != default]


def group_of(key: str) -> type:
    return next(group for group in (CoreSettings, *COMPONENT_GROUPS) if key in group.model_fields)


def plans(renders: Renders, key: str) -> Iterator[tuple[Config, Config]]:
    """(without the key or at another value, with it and its COMPANIONS) for each value and
    prerequisites both are valid with: the key's own entry in PREREQUISITES, else no settings and the
    bundles of its settings group."""
    group = group_of(key)
    # The group's own bundles first: with its component off, a component's key rarely shows.
    bundles = [PREREQUISITES[key]] if key in PREREQUISITES else \
        [bundle for bundle in BUNDLES if any(name in group.model_fields for name in bundle)] + [{}]
    for value in candidates(key):
        for bundle in bundles:
            base = {name: setting for name, setting in bundle.items() if name != key}
            with_key = renders.config({**base, key: value, **COMPANIONS.get(key, {})})
            # A key of a group that is set together (the Proxmox endpoint, the BGP peer) cannot be
            # left out: it is compared with the bundle's own value instead.
            without = renders.config(base) or (renders.config(bundle) if key in bundle else None)
            if without is not None and with_key is not None and without.cluster != with_key.cluster:
                yield without, with_key


def test_every_key_changes_the_render_or_is_read_by_a_task(renders):
    unplanned, inert = [], []
    for key in ClusterConfig.model_fields:
        if read_by(key):
            continue
        pairs = list(plans(renders, key))
        if not pairs:
            unplanned.append(key)
        elif all(renders(without) == renders(with_key) for without, with_key in pairs):
            inert.append(key)
    assert not unplanned and not inert, (
        f"no valid value and prerequisites for: {unplanned} (add them to VALUES/PREREQUISITES); "
        f"accepted, but the render does not change: {inert}")


def test_keys_read_by_a_task_are_read_by_its_code():
    """A `read_by` marker names a task, and the operations code reads the key."""
    folders = ("lib/cluster_template/ops", "lib/cluster_template/integrations", "lib/cluster_template/talos", "tasks")
    sources = "\n".join(path.read_text() for folder in folders for path in sorted((REPO / folder).rglob("*.py")))
    marked = [key for key in ClusterConfig.model_fields if read_by(key)]
    for key in marked:
        assert read_by(key).startswith("inv "), key
        assert f".{key}" in sources or f'"{key}"' in sources, f"{key}: marked read by {read_by(key)}, read by no task"


def test_the_reference_lists_what_reads_each_task_key():
    from cluster_template.config.reference import configuration_reference

    reference = configuration_reference()
    marked = [key for key in ClusterConfig.model_fields if read_by(key)]
    assert marked
    for key in marked:
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{key}` |"))
        assert f"read by: {read_by(key)}" in row, row
