"""Shared fixtures: a throw-away copy of the project to run `inv` in, and sample configurations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluster_template.schemas import SHIPPED_DIR

REPO = Path(__file__).resolve().parent.parent
# The schemas the project ships; tests name them explicitly so nothing is ever downloaded.
SCHEMA_DIR = SHIPPED_DIR
PROJECT_PARTS = ("tasks.py", "tasks", "templates")
INV = str(Path(sys.executable).with_name("inv"))


@dataclass
class Project:
    """A copy of the template repository in a temporary directory."""

    root: Path

    def inv(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CLUSTER_TEMPLATE_SCHEMA_DIR": str(SCHEMA_DIR),
                    **(env or {})}
        return subprocess.run([INV, *args], cwd=self.root, capture_output=True, text=True,
                              input=input, env=full_env, timeout=timeout)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def snapshot(self) -> dict[str, bytes]:
        """Every file outside the copied sources, with its bytes."""
        skip = {self.root / part for part in PROJECT_PARTS}
        files = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not any(parent in skip for parent in path.parents) and path not in skip:
                files[str(path.relative_to(self.root))] = path.read_bytes()
        return files


def copy_project(target: Path, *, templates: Path | None = None) -> Project:
    target.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    if templates is not None:
        shutil.rmtree(target / "templates" / "config", ignore_errors=True)
        shutil.copytree(templates, target / "templates" / "config")
    return Project(target)


MINIMAL_TEMPLATES = REPO / "tests" / "foundation" / "minimal_templates"


@pytest.fixture
def small(tmp_path: Path) -> Project:
    """`inv init` done on the minimal template set, with the sample tunnel credentials."""
    project = copy_project(tmp_path / "repo", templates=MINIMAL_TEMPLATES)
    assert project.inv("init").returncode == 0
    shutil.copy(project.root / "templates/samples/cloudflare-tunnel.sample.json", project.root / "cloudflare-tunnel.json")
    return project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the project, before `inv init`."""
    return copy_project(tmp_path / "repo")


@pytest.fixture
def initialized(project: Project) -> Project:
    """A copy after `inv init`, with the sample configuration and a demo tunnel credentials file."""
    result = project.inv("init")
    assert result.returncode == 0, result.stderr
    shutil.copy(project.root / "templates/samples/cloudflare-tunnel.sample.json", project.root / "cloudflare-tunnel.json")
    return project


@pytest.fixture
def configured_sample(initialized: Project) -> Project:
    """A copy after `inv init` and a successful `inv configure --yes` of the sample configuration."""
    result = initialized.inv("configure", "--yes")
    assert result.returncode == 0, result.stderr
    return initialized
