"""Validation of a rendered tree, with the schema locations of `cluster_template.schemas`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..run import Executor
from ..stopwatch import Stopwatch
from ..validate import ValidationReport, validate_tree

KUBERNETES_SCHEMA_VERSION = "1.35.0"
# The project's caches (git-ignored state): kubectl builds by their inputs, compiled templates,
# objects that passed their schema checks and parsed YAML.
CACHE_DIR = Path(".inv") / "cache"
# kustomize builds are mostly process start-up and I/O: four at a time is measurably faster than three
# even on two cores (1.46 s → 1.26 s for the 31 builds of the all-components render).
KUSTOMIZE_WORKERS = 4


def validate_rendered(root: Path, ex: Executor, secrets: Iterable[str] = (), stopwatch: Stopwatch | None = None, *,
                      project: Path | None = None) -> ValidationReport:
    """Validate the rendered outputs under `root` (the repository, or configure's staging tree of
    the repository `project`, whose caches are used); `secrets` are the credential values no file
    outside `*.sops.*` may hold."""
    from .. import schemas
    from ..safepath import inside

    caches = project or root
    return validate_tree(
        root,
        executor=ex,
        schema_dir=schemas.schema_dir() / "crds",
        kubernetes_version=KUBERNETES_SCHEMA_VERSION,
        talos_schema=schemas.talos_schema(),
        talconfig_schema=schemas.talconfig_schema(),
        fetch_crd_schema=schemas.crd_schema,
        workers=KUSTOMIZE_WORKERS,
        stopwatch=stopwatch,
        build_cache_dir=inside(caches, CACHE_DIR / "kustomize"),  # never written through a symlink leading out
        cache_dir=inside(caches, CACHE_DIR / "validate"),
        secrets=secrets,
    )


def validate_repository(root: Path, ex: Executor) -> ValidationReport:
    """`inv validate`: the repository's rendered tree, with the credentials of its configuration."""
    from .configure import credentials, load_inputs

    return validate_rendered(root, ex, credentials(*load_inputs(root, ex)))


def as_configure_check(ex: Executor):
    """The `validate_output` callback of `ops.configure.configure`."""

    def check(staging: Path, secrets: tuple[str, ...], stopwatch: Stopwatch | None = None) -> tuple[list[str], str]:
        report = validate_rendered(staging, ex, secrets, stopwatch, project=staging.parent)
        return [str(issue) for issue in report.errors], report.summary()

    return check
