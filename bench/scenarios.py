"""Configurations the benchmarks render: every optional platform component on, any number of nodes."""

from __future__ import annotations

import ipaddress

SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
NETWORK = ipaddress.IPv4Network("10.10.0.0/16")


def all_components_cluster(nodes: int) -> str:
    """cluster.yaml with the core keys on a /16 (room for 300 nodes), the platform components, the
    data layer (CloudNativePG with backups and pgvector, Dragonfly with ACLs, backups and monitoring) and
    the applications (Keycloak on CloudNativePG with the apps' sign-in, LiteLLM with one provider and its
    Langfuse callbacks, Langfuse, Obot) on."""
    del nodes  # the network is large enough for any count the benchmarks use
    return f"""\
node_cidr: "{NETWORK}"
cluster_api_addr: "10.10.255.10"
cluster_gateway_addr: "10.10.255.11"
cluster_dns_gateway_addr: "10.10.255.12"
cloudflare_gateway_addr: "10.10.255.13"
cloudflare_domain: "example.com"
cloudflare_token: "bench-cloudflare-token-0123456789"
repository_name: "bench/cluster"
monitoring_enabled: true
grafana_admin_password: "bench-grafana-password"
hubble_enabled: true
loki_enabled: true
tracing_enabled: true
rustfs_enabled: true
rustfs_secret_key: "bench-rustfs-secret-key"
rustfs_monitoring_enabled: true
loki_monitoring_enabled: true
loki_s3_access_key: "bench-loki-access"
loki_s3_secret_key: "bench-loki-secret-key"
network_policies_enabled: true
network_policies_mode: "audit"
backup_s3_endpoint: "https://s3.example.com"
backup_s3_bucket: "etcd-backups"
backup_s3_access_key: "bench-backup-access"
backup_s3_secret_key: "bench-backup-secret-key"
oidc_issuer_url: "https://auth.example.com/realms/main"
oidc_jwks_uri: "https://auth.example.com/realms/main/protocol/openid-connect/certs"
cnpg_enabled: true
cnpg_barman_plugin_enabled: true
cnpg_backup_enabled: true
cnpg_s3_access_key: "bench-cnpg-access"
cnpg_s3_secret_key: "bench-cnpg-secret-key"
cnpg_pgvector_enabled: true
dragonfly_enabled: true
dragonfly_password: "bench-dragonfly-password"
dragonfly_backup_enabled: true
dragonfly_s3_access_key: "bench-dragonfly-access"
dragonfly_s3_secret_key: "bench-dragonfly-secret-key"
dragonfly_monitoring_enabled: true
dragonfly_acl_enabled: true
dragonfly_appcache_password: "bench-dragonfly-appcache"
keycloak_enabled: true
keycloak_admin_password: "bench-keycloak-admin"
keycloak_db_mode: "cnpg"
keycloak_db_password: "bench-keycloak-db"
keycloak_monitoring_enabled: true
grafana_oidc_enabled: true
grafana_oidc_client_secret: "bench-grafana-oidc"
litellm_enabled: true
litellm_master_key: "sk-bench-0123456789abcdef0123456789ab"
litellm_salt_key: "bench-litellm-salt-0123456789abcdef"
litellm_db_password: "bench-litellm-db"
dragonfly_litellm_password: "bench-dragonfly-litellm"
azure_openai_us_east_api_key: "bench-azure-key"
azure_openai_us_east_resource_name: "bench-openai-eastus"
litellm_oidc_enabled: true
litellm_oidc_client_secret: "bench-litellm-oidc"
litellm_monitoring_enabled: true
langfuse_enabled: true
langfuse_nextauth_secret: "bench-nextauth-0123456789abcdef01234"
langfuse_salt: "bench-langfuse-salt-0123456789abcdef"
langfuse_encryption_key: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
langfuse_postgres_password: "bench-langfuse-db"
langfuse_clickhouse_password: "bench-clickhouse"
langfuse_s3_access_key: "bench-langfuse-access"
langfuse_s3_secret_key: "bench-langfuse-secret"
dragonfly_langfuse_password: "bench-dragonfly-langfuse"
litellm_langfuse_enabled: true
litellm_langfuse_public_key: "pk-lf-bench"
litellm_langfuse_secret_key: "sk-lf-bench"
obot_enabled: true
obot_db_password: "bench-obot-db"
obot_bootstrap_token: "bench-obot-bootstrap-token"
obot_encryption_key: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456="
obot_keycloak_enabled: true
obot_keycloak_client_secret: "bench-obot-oidc"
"""


def nodes_yaml(count: int) -> str:
    """`count` nodes: up to three controllers, the rest workers, addresses from 10.10.0.10 on."""
    lines = ["nodes:"]
    for index in range(count):
        address = NETWORK[10 + index]
        mac = f"02:00:00:00:{index // 256:02x}:{index % 256:02x}"
        lines += [f"  - name: k8s-{index}", f'    address: "{address}"', f"    controller: {str(index < 3).lower()}",
                  "    disk: /dev/sda", f'    mac_addr: "{mac}"', f'    schematic_id: "{SCHEMATIC}"']
    return "\n".join(lines) + "\n"
