"""Dragonfly: the shared Redis-compatible cache (Dragonfly Operator), with S3 snapshots to RustFS,
monitoring, and per-application ACL users."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import Cron, secret
from ._shared import MONITORING, CpuQuantity, SemVer, StorageSize, needs, requires_values

DRAGONFLY_S3_KEYS = ("dragonfly_s3_access_key", "dragonfly_s3_secret_key")


@dataclass(frozen=True)
class CacheConsumer:
    """An application that uses the shared Dragonfly: its ACL user and where it connects from.

    A new consumer is one more entry in DRAGONFLY_CONSUMERS; the ACL file, the network policy and
    the password rules all read this tuple.
    """

    user: str
    password_key: str
    namespace: str
    # The key that turns the application on; None: the consumer exists when its password is set.
    enabled_key: str | None
    # ACL rules after the password: key patterns first, then command categories.
    rules: str


# Commands an application cache needs, without the administrative ones (FLUSHALL, CONFIG, KEYS ...).
_CACHE_COMMANDS = "+@read +@write +@keyspace +@connection -@dangerous"

# No keycloak user: Keycloak 26 keeps its caches in its own Infinispan, it has no Redis client.
DRAGONFLY_CONSUMERS = (
    CacheConsumer("appcache", "dragonfly_appcache_password", "default", None,
                  f"~cache:* resetchannels {_CACHE_COMMANDS}"),
    CacheConsumer("litellm", "dragonfly_litellm_password", "ai-system", "litellm_enabled",
                  f"~litellm:* resetchannels {_CACHE_COMMANDS}"),
    CacheConsumer("langfuse", "dragonfly_langfuse_password", "ai-system", "langfuse_enabled",
                  # BullMQ (Langfuse's queues) runs Lua scripts and reads INFO for the server version.
                  f"~langfuse:* &langfuse:* {_CACHE_COMMANDS} +@pubsub +@scripting +info"),
)
DRAGONFLY_PASSWORD_KEYS = ("dragonfly_password", *(consumer.password_key for consumer in DRAGONFLY_CONSUMERS))


class DragonflySettings(Settings):
    dragonfly_enabled: bool = Field(False, description="Deploy the Dragonfly Operator and a shared Dragonfly instance.")
    dragonfly_version: str = Field("v1.36.0", pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+$", description="Dragonfly image tag.")
    dragonfly_operator_version: SemVer = Field("1.3.1", description="Dragonfly Operator Helm chart version.")
    dragonfly_replicas: int = Field(1, ge=1, le=10, description="Number of Dragonfly instances.")
    dragonfly_maxmemory: str = Field(
        "512mb", pattern=r"^[0-9]+[kmgt]b$", description="Memory limit of the data set (Dragonfly units: 512mb, 2gb).")
    dragonfly_threads: int = Field(2, ge=1, le=16, description="Dragonfly worker threads.")
    dragonfly_control_plane_only: bool = Field(
        False, description="Run the operator and the Dragonfly pods on control-plane nodes.")
    dragonfly_cpu_request: CpuQuantity = Field("100m", description="CPU request of each Dragonfly pod.")
    dragonfly_memory_request: StorageSize = Field("256Mi", description="Memory request of each Dragonfly pod.")
    dragonfly_memory_limit: StorageSize = Field(
        "1Gi", description="Memory limit of each Dragonfly pod; must be above dragonfly_maxmemory.")
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
    dragonfly_s3_endpoint: str = Field(
        "rustfs-svc.storage.svc.cluster.local:9000", pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$",
        description="S3 endpoint of the snapshots as host:port (no scheme; plain HTTP inside the cluster).")

    # -- monitoring -------------------------------------------------------------------------
    dragonfly_monitoring_enabled: bool = Field(
        False, description="Deploy the PodMonitor, alert rules and Grafana dashboard (needs monitoring_enabled).")

    # -- ACL users --------------------------------------------------------------------------
    dragonfly_acl_enabled: bool = Field(
        False, description="Create one ACL user per application, each limited to its own key prefix.")
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


_DRAGONFLY_UNITS = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_KUBERNETES_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@rule
def dragonfly_memory_fits(config, nodes):
    """maxmemory at or above the container limit lets the kernel kill Dragonfly before it evicts."""
    if not config.dragonfly_enabled:
        return
    maxmemory = int(config.dragonfly_maxmemory[:-2]) * _DRAGONFLY_UNITS[config.dragonfly_maxmemory[-2]]
    limit = int(config.dragonfly_memory_limit[:-2]) * _KUBERNETES_UNITS[config.dragonfly_memory_limit[-2]]
    request = int(config.dragonfly_memory_request[:-2]) * _KUBERNETES_UNITS[config.dragonfly_memory_request[-2]]
    if maxmemory >= limit:
        yield ("dragonfly_maxmemory",
               f"must be below dragonfly_memory_limit ({config.dragonfly_memory_limit}); raise the limit "
               f"or write a smaller maxmemory")
    if request > limit:
        yield "dragonfly_memory_request", f"must not exceed dragonfly_memory_limit ({config.dragonfly_memory_limit})"


@rule
def dragonfly_passwords_fit_the_acl_file(config, nodes):
    # The ACL file is one rule per line, split on blanks: a blank inside a password would end it.
    for key in DRAGONFLY_PASSWORD_KEYS:
        value = getattr(config, key)
        if is_set(value) and any(character.isspace() for character in value):
            yield key, "must not contain spaces, tabs or line breaks (Dragonfly's ACL file splits rules on them)"
