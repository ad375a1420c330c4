"""CloudNativePG: the PostgreSQL operator shared by Keycloak, LiteLLM, Langfuse and Obot, with the
Barman Cloud plugin for backups to RustFS and the pgvector extension."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Settings, rule, set_together
from ..types import secret
from ._shared import ImageRef, SemVer, needs, requires_values

CNPG_S3_KEYS = ("cnpg_s3_access_key", "cnpg_s3_secret_key")


class CNPGSettings(Settings):
    cnpg_enabled: bool = Field(False, description="Deploy the CloudNativePG operator (PostgreSQL for the other apps).")
    cnpg_postgres_image: ImageRef = Field(
        "ghcr.io/cloudnative-pg/postgresql:18.1-standard-trixie",
        description="PostgreSQL image of the database clusters.")
    cnpg_storage_class: str | None = Field(
        None, min_length=1, description="Storage class of the PostgreSQL volumes. Default: storage_class.")
    cnpg_control_plane_only: bool = Field(True, description="Schedule the operator on control-plane nodes.")

    # -- Barman Cloud plugin ----------------------------------------------------------------
    cnpg_barman_plugin_enabled: bool = Field(
        False, description="Deploy the Barman Cloud plugin that backs PostgreSQL up to S3 (needs cnpg_enabled).")
    cnpg_barman_plugin_version: SemVer = Field("0.10.0", description="Barman Cloud plugin version.")
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
def cnpg_credentials_together(config, nodes):
    yield from set_together(config, CNPG_S3_KEYS, "CNPG backup S3 keys")
