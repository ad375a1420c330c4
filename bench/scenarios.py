"""Configurations the benchmarks render: every optional platform component on, any number of nodes."""

from __future__ import annotations

import ipaddress

SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
NETWORK = ipaddress.IPv4Network("10.10.0.0/16")


def all_components_cluster(nodes: int) -> str:
    """cluster.yaml with the core keys on a /16 (room for 300 nodes), the platform components and the
    data layer (CloudNativePG with backups and pgvector, Dragonfly with ACLs, backups and monitoring) on."""
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
