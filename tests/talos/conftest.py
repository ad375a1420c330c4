"""Shared fixtures for the Talos generator tests.

Reference data: the Talos v1.12.11 JSON schema the project ships, and upstream example files from
siderolabs/talos v1.12.11 (`fixtures/upstream`, see its SOURCES.md).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from cluster_template.schemas import SHIPPED_DIR
from cluster_template.talos import generate_secrets, load_secrets
from cluster_template.talos.yamlio import load_document

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = FIXTURES / "upstream"
SCHEMA = SHIPPED_DIR / "talos" / "config.schema.v1.12.11.json"
GENERATED_AT = datetime(2026, 3, 1, 12, 30, 45, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def schema_path() -> Path:
    return SCHEMA


@pytest.fixture(scope="session")
def example_bundle_text() -> str:
    return (EXAMPLES / "secrets-stability.yaml").read_text()


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
        "controlplane": (EXAMPLES / "controlplane-v1.12.yaml").read_text(),
        "worker": (EXAMPLES / "worker-v1.12.yaml").read_text(),
    }


def fixture_talconfig(name: str) -> tuple[dict, Path]:
    """The parsed talconfig of a fixture directory and the directory itself."""
    directory = FIXTURES / name
    return load_document((directory / "talconfig.yaml").read_text()), directory
