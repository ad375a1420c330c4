"""Shared fixtures for the Talos generator tests.

Reference data comes from the shared folder next to the repository (`../shared`, or the folder in
$CLUSTER_TEMPLATE_SHARED): the Talos v1.12.11 JSON schema and upstream example files that
`talosctl` produced (`reference/talos-examples`).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluster_template.talos import generate_secrets, load_secrets
from cluster_template.talos.yamlio import load_document

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(os.environ.get("CLUSTER_TEMPLATE_SHARED", Path(__file__).resolve().parents[3] / "shared"))
EXAMPLES = SHARED / "reference" / "talos-examples"
SCHEMA = SHARED / "schemas" / "talos" / "config.schema.v1.12.11.json"
GENERATED_AT = datetime(2026, 3, 1, 12, 30, 45, tzinfo=timezone.utc)


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data not found: {path} (set CLUSTER_TEMPLATE_SHARED)")
    return path


@pytest.fixture(scope="session")
def schema_path() -> Path:
    return _require(SCHEMA)


@pytest.fixture(scope="session")
def example_bundle_text() -> str:
    return _require(EXAMPLES / "secrets-stability.yaml").read_text()


@pytest.fixture(scope="session")
def example_bundle(example_bundle_text):
    return load_secrets(example_bundle_text)


@pytest.fixture(scope="session")
def generated_bundle():
    """One fresh bundle per session (RSA-4096 key generation is slow)."""
    return generate_secrets(now=GENERATED_AT)


@pytest.fixture(scope="session")
def example_config():
    """`{name: text}` of the upstream v1.12 controlplane and worker configs."""
    return {
        "controlplane": _require(EXAMPLES / "controlplane-v1.12.yaml").read_text(),
        "worker": _require(EXAMPLES / "worker-v1.12.yaml").read_text(),
    }


def fixture_talconfig(name: str) -> tuple[dict, Path]:
    """The parsed talconfig of a fixture directory and the directory itself."""
    directory = FIXTURES / name
    return load_document((directory / "talconfig.yaml").read_text()), directory
