"""CloudNativePG: the PostgreSQL operator shared by Keycloak, LiteLLM, Langfuse and Obot, with the
Barman Cloud plugin for backups to RustFS and the pgvector extension."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Settings, rule, set_together
from ..types import secret
from ._shared import ImageRef, SemVer, needs, requires_values

CNPG_S3_KEYS = ("cnpg_s3_access_key", "cnpg_s3_secret_key")

# The plugin ships as a Helm chart whose version differs from the plugin's; each chart release
# carries the CRDs of exactly one plugin version (cloudnative-pg/charts, charts/plugin-barman-cloud).
BARMAN_PLUGIN_CHARTS = {
    "0.9.0": "0.3.1",
    "0.10.0": "0.4.0",
    "0.11.0": "0.5.0",
    "0.12.0": "0.6.0",
    "0.13.0": "0.7.0",
}


class CNPGSettings(Settings):
    cnpg_enabled: bool = Field(False, description="Deploy the CloudNativePG operator (PostgreSQL for the other apps).")
    cnpg_postgres_image: ImageRef = Field(
        "ghcr.io/cloudnative-pg/postgresql:18.1-standard-trixie",
        description="PostgreSQL image of the database clusters.")
    cnpg_storage_class: str | None = Field(
        None, min_length=1, description="Storage class of the PostgreSQL volumes. Default: storage_class.")
    cnpg_control_plane_only: bool = Field(True, description="Schedule the operator on control-plane nodes.")
    cnpg_priority_class: str = Field(
        "system-cluster-critical", pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$",
        description="PriorityClass of the operator, the plugin and the PostgreSQL pods.")

    # -- Barman Cloud plugin ----------------------------------------------------------------
    cnpg_barman_plugin_enabled: bool = Field(
        False, description="Deploy the Barman Cloud plugin that backs PostgreSQL up to S3 (needs cnpg_enabled).")
    cnpg_barman_plugin_version: SemVer = Field(
        "0.10.0", description="Barman Cloud plugin version (one of " + ", ".join(BARMAN_PLUGIN_CHARTS) + ").")
    cnpg_barman_plugin_log_level: Literal["trace", "debug", "info", "warn", "error"] = Field(
        "info", description="Log level of the Barman Cloud plugin.")

    # -- backups ----------------------------------------------------------------------------
    cnpg_backup_enabled: bool = Field(
        False, description="Back the PostgreSQL clusters up to RustFS (needs RustFS, the Barman plugin and the S3 keys).")
    cnpg_s3_access_key: str | None = secret(
        None, min_length=1, description="RustFS access key for PostgreSQL backups (created in the RustFS console).")
    cnpg_s3_secret_key: str | None = secret(None, min_length=1, description="Secret key paired with cnpg_s3_access_key.")

    # -- pgvector ---------------------------------------------------------------------------
    cnpg_pgvector_enabled: bool = Field(
        False, description="Mount the pgvector extension into PostgreSQL as an image volume (needs cnpg_enabled).")
    cnpg_pgvector_image: ImageRef = Field(
        "ghcr.io/cloudnative-pg/pgvector:0.8.1-18-trixie", description="Image that carries the pgvector extension.")
    cnpg_pgvector_version: SemVer = Field("0.8.1", description="pgvector version inside cnpg_pgvector_image.")


@rule
def cnpg_flag_prerequisites(config, nodes):
    operator = "the operator must be deployed"
    yield from needs(config, "cnpg_barman_plugin_enabled", {"cnpg_enabled": operator})
    yield from needs(config, "cnpg_pgvector_enabled", {"cnpg_enabled": operator})
    yield from needs(config, "cnpg_backup_enabled", {
        "cnpg_enabled": operator,
        "rustfs_enabled": "backups are written to RustFS",
        "cnpg_barman_plugin_enabled": "the Barman Cloud plugin ships the backups",
    })
    if config.cnpg_backup_enabled:
        yield from requires_values(config, CNPG_S3_KEYS, "cnpg_backup_enabled is true")


@rule
def cnpg_barman_plugin_version_known(config, nodes):
    if config.cnpg_barman_plugin_version not in BARMAN_PLUGIN_CHARTS:
        yield ("cnpg_barman_plugin_version",
               f"has no plugin-barman-cloud chart release here; write one of {', '.join(BARMAN_PLUGIN_CHARTS)}")


@rule
def cnpg_credentials_together(config, nodes):
    yield from set_together(config, CNPG_S3_KEYS, "CNPG backup S3 keys")
