"""Talos backup: scheduled etcd snapshots, encrypted with age, uploaded to S3."""

from __future__ import annotations

from pydantic import Field

from ..base import Settings, rule, set_together
from ..types import HttpURL, secret
from ._shared import BUCKET, all_set, any_set, requires_values

BACKUP_KEYS = ("backup_s3_endpoint", "backup_s3_bucket")
CREDENTIAL_KEYS = ("backup_s3_access_key", "backup_s3_secret_key")
INTERNAL_DOMAIN = "svc.cluster.local"


class TalosBackupSettings(Settings):
    backup_s3_endpoint: HttpURL | None = Field(
        None, description="S3 endpoint for etcd snapshots; with backup_s3_bucket enables talos-backup.")
    backup_s3_bucket: str | None = Field(
        None, pattern=BUCKET, description="S3 bucket the snapshots are written to (an S3 bucket name: lower-case letters, "
        "digits, dots and hyphens).")
    backup_s3_region: str = Field(
        "us-east-1", min_length=1, description="Region for the AWS SDK; any value works for S3-compatible stores.")
    backup_s3_access_key: str | None = secret(None, min_length=1, description="S3 access key for the snapshot bucket.")
    backup_s3_secret_key: str | None = secret(None, min_length=1, description="S3 secret key for the snapshot bucket.")
    backup_age_public_key: str | None = Field(
        None, pattern=r"^age1[0-9a-z]+$",
        description="age public key the snapshots are encrypted to. Default: the public key of age.key.")


def talos_backup_configured(config) -> bool:
    return all_set(config, BACKUP_KEYS)


def backup_endpoint_internal(config) -> bool:
    """An in-cluster endpoint (RustFS) needs path-style URLs and plain HTTP."""
    return INTERNAL_DOMAIN in (config.backup_s3_endpoint or "")


@rule
def talos_backup_keys_together(config, nodes):
    yield from set_together(config, BACKUP_KEYS, "Talos backup")
    if talos_backup_configured(config):
        yield from requires_values(config, CREDENTIAL_KEYS, "backup_s3_endpoint and backup_s3_bucket are set")
    elif any_set(config, CREDENTIAL_KEYS) and not any_set(config, BACKUP_KEYS):
        yield from requires_values(config, BACKUP_KEYS, "the Talos backup S3 credentials are set")
