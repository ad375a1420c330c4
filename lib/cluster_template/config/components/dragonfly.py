"""Dragonfly: the shared Redis-compatible cache (Dragonfly Operator), with S3 snapshots to RustFS,
monitoring, and per-application ACL users."""

from __future__ import annotations

from pydantic import Field

from ..base import Settings, rule, set_together
from ..types import Cron, secret
from ._shared import MONITORING, SemVer, needs, requires_values

DRAGONFLY_S3_KEYS = ("dragonfly_s3_access_key", "dragonfly_s3_secret_key")


class DragonflySettings(Settings):
    dragonfly_enabled: bool = Field(False, description="Deploy the Dragonfly Operator and a shared Dragonfly instance.")
    dragonfly_version: str = Field("v1.36.0", pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$", description="Dragonfly image tag.")
    dragonfly_operator_version: SemVer = Field("1.3.1", description="Dragonfly Operator Helm chart version.")
    dragonfly_replicas: int = Field(1, ge=1, le=10, description="Number of Dragonfly instances.")
    dragonfly_maxmemory: str = Field(
        "512mb", pattern=r"^[0-9]+[kmgt]b$", description="Memory limit of the data set (Dragonfly units: 512mb, 2gb).")
    dragonfly_threads: int = Field(2, ge=1, le=16, description="Dragonfly worker threads.")
    dragonfly_password: str | None = secret(
        None, min_length=1, description="Password of Dragonfly's default user; required with Dragonfly.")
    dragonfly_cache_mode: bool = Field(False, description="Evict least-recently-used keys when full (pure cache use).")
    dragonfly_slowlog_threshold: int = Field(10000, ge=0, description="Commands slower than this many microseconds are logged.")
    dragonfly_slowlog_max_len: int = Field(128, ge=0, le=1000, description="Entries kept in the slow log.")

    # -- backups ----------------------------------------------------------------------------
    dragonfly_backup_enabled: bool = Field(
        False, description="Write periodic snapshots to RustFS (needs RustFS and the S3 keys).")
    dragonfly_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for Dragonfly snapshots (created in the RustFS console).")
    dragonfly_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with dragonfly_s3_access_key.")
    dragonfly_snapshot_cron: Cron = Field("0 */6 * * *", description="Cron schedule of the snapshots.")

    # -- monitoring -------------------------------------------------------------------------
    dragonfly_monitoring_enabled: bool = Field(
        False, description="Deploy the PodMonitor, alert rules and Grafana dashboard (needs monitoring_enabled).")

    # -- ACL users --------------------------------------------------------------------------
    dragonfly_acl_enabled: bool = Field(
        False, description="Create one ACL user per application, each limited to its own key prefix.")
    dragonfly_keycloak_password: str | None = secret(None, min_length=1, description="Password of the keycloak ACL user.")
    dragonfly_appcache_password: str | None = secret(None, min_length=1, description="Password of the appcache ACL user.")
    dragonfly_litellm_password: str | None = secret(None, min_length=1, description="Password of the litellm ACL user.")
    dragonfly_langfuse_password: str | None = secret(None, min_length=1, description="Password of the langfuse ACL user.")


@rule
def dragonfly_requirements(config, nodes):
    if config.dragonfly_enabled:
        yield from requires_values(config, ("dragonfly_password",), "dragonfly_enabled is true")


@rule
def dragonfly_flag_prerequisites(config, nodes):
    owner = {"dragonfly_enabled": "it configures Dragonfly"}
    yield from needs(config, "dragonfly_acl_enabled", owner)
    yield from needs(config, "dragonfly_monitoring_enabled", {**owner, "monitoring_enabled": MONITORING})
    yield from needs(config, "dragonfly_backup_enabled", {**owner, "rustfs_enabled": "snapshots are written to RustFS"})
    yield from set_together(config, DRAGONFLY_S3_KEYS, "Dragonfly snapshot S3 keys")
    if config.dragonfly_backup_enabled:
        yield from requires_values(config, DRAGONFLY_S3_KEYS, "dragonfly_backup_enabled is true")
