"""RustFS: shared S3-compatible object storage for Loki, backups and the AI apps.

Access keys for the apps are created by hand in the RustFS console (RustFS has no `mc admin`), so
every `*_s3_*` pair of another component is checked against `rustfs_enabled` where it is declared.
"""

from __future__ import annotations

from pydantic import Field

from ..base import Settings, rule, set_together
from ..types import Subdomain, secret
from ._shared import MONITORING, StorageSize, credentials_need_rustfs, needs, requires_values

LOKI_S3_KEYS = ("loki_s3_access_key", "loki_s3_secret_key")


class RustFSSettings(Settings):
    rustfs_enabled: bool = Field(False, description="Deploy RustFS, the shared S3-compatible object store (alpha software).")
    rustfs_subdomain: Subdomain = Field("rustfs", description="The RustFS console is served at <rustfs_subdomain>.<cloudflare_domain>.")
    rustfs_replicas: int = Field(1, ge=1, le=16, description="Number of RustFS pods.")
    rustfs_data_volume_size: StorageSize = Field("20Gi", description="Size of each RustFS data volume.")
    rustfs_log_volume_size: StorageSize = Field("1Gi", description="Size of each RustFS log volume.")
    rustfs_storage_class: str | None = Field(
        None, min_length=1, description="Storage class of the RustFS volumes. Default: storage_class.")
    rustfs_access_key: str = Field("rustfsadmin", min_length=1, description="RustFS administrator user (access key).")
    rustfs_secret_key: str | None = secret(
        None, min_length=8, description="RustFS administrator password (secret key); required with RustFS.")
    rustfs_monitoring_enabled: bool = Field(
        False, description="Deploy the RustFS ServiceMonitor and Grafana dashboard (needs monitoring_enabled).")
    loki_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key Loki stores logs with (created in the RustFS console).")
    loki_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with loki_s3_access_key.")


@rule
def rustfs_needs_secret_key(config, nodes):
    if config.rustfs_enabled:
        yield from requires_values(config, ("rustfs_secret_key",), "rustfs_enabled is true")


@rule
def rustfs_monitoring_prerequisites(config, nodes):
    yield from needs(config, "rustfs_monitoring_enabled", {
        "rustfs_enabled": "it monitors RustFS",
        "monitoring_enabled": MONITORING,
    })


@rule
def loki_credentials(config, nodes):
    yield from set_together(config, LOKI_S3_KEYS, "Loki S3 keys")
    if config.loki_enabled:
        yield from credentials_need_rustfs(config, LOKI_S3_KEYS, "Loki's S3 keys")
