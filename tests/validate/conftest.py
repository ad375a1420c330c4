"""Fixtures for the validator tests: a copy of a small, valid rendered tree to plant mistakes in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cluster_template.run import Executor
from cluster_template.schemas import SHIPPED_DIR
from cluster_template.validate import ValidationReport, validate_tree

HERE = Path(__file__).resolve().parent
CLEAN_TREE = HERE / "fixtures" / "clean"
SCHEMAS = SHIPPED_DIR
CRD_SCHEMAS = SCHEMAS / "crds"
TALOS_SCHEMA = SCHEMAS / "talos" / "config.schema.v1.12.11.json"
TALCONFIG_SCHEMA = SCHEMAS / "talhelper" / "talconfig.schema.json"


class Tree:
    """A writable copy of the clean fixture tree."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def replace(self, rel: str, old: str, new: str) -> None:
        path = self.root / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    def validate(self, **overrides) -> ValidationReport:
        options = dict(executor=Executor(), schema_dir=CRD_SCHEMAS, talos_schema=TALOS_SCHEMA,
                       talconfig_schema=TALCONFIG_SCHEMA)
        options.update(overrides)
        return validate_tree(self.root, **options)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    shutil.copytree(CLEAN_TREE, tmp_path / "repo")
    return Tree(tmp_path / "repo")
