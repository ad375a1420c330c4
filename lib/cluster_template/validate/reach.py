"""No dead files: every file under `kubernetes/` is applied by Flux, starting from its entry point.

Flux applies the entry folder (the path FluxInstance syncs, `kubernetes/flux/cluster`); from
there a folder is reached through a Flux Kustomization's `spec.path` (as Flux sees it, after
post-build substitution) and, inside a folder, through its kustomization file's `resources`,
`components`, `bases`, patches, generator inputs and transformer configs; a folder without a
kustomization file applies every YAML file below it (as kustomize-controller generates it). A file
reached by none of these is rendered but never applied: it is an error naming the file.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from .defaults import DEFAULT_ENTRY_POINTS
from .fluxbuild import is_external, normalized_path, reference, spec_of
from .issues import IssueCollector, ValidationIssue
from .kustomize import (KustomizeReferences, check_kustomization, follow_resources, has_kustomization,
                        kustomization_name, walk_folders)
from .objects import Located, is_flux_kustomization
from .scan import SourceTree

CHECKED_ROOT = "kubernetes"


def check_reachable(tree: SourceTree, objects: Iterable[Located], collector: IssueCollector, *,
                    entry_points: Iterable[str] = DEFAULT_ENTRY_POINTS, external=frozenset()) -> None:
    root = Path(tree.root)
    everything = _all_files(root)
    if not everything:
        return
    objects = list(objects)
    in_tree = {(obj.kind, obj.namespace, obj.name) for obj in objects}
    kustomizations: dict[str, list[Located]] = {}
    for obj in objects:
        if is_flux_kustomization(obj.data):
            kustomizations.setdefault(obj.file, []).append(obj)
    reached: set[str] = set()
    entry_points = tuple(entry_points)
    folders = [path for path in entry_points if (root / path).is_dir()]
    if not folders:  # a partial tree (one app, a test fixture) has nothing to be reached from
        return
    seen_folders: set[str] = set()
    while folders:
        folder = folders.pop()
        if folder in seen_folders:
            continue
        seen_folders.add(folder)
        new_files = _folder_files(tree, folder) - reached
        reached |= new_files
        for rel in sorted(new_files | {folder}):
            for ks in kustomizations.get(rel, []):
                path = _applied_path(ks, external, in_tree)
                if path is not None and (root / path).is_dir():
                    folders.append(path)
    entry = ", ".join(entry_points)
    for rel in sorted(everything - reached):
        collector.add(ValidationIssue(rel, message=(
            f"dead file: Flux never applies it (no Flux Kustomization path or kustomization.yaml reached from "
            f"{entry} includes it); list it in its folder's kustomization.yaml resources (and that folder in "
            f"its parent's, or in a Flux Kustomization's spec.path), or stop rendering it")))


def _all_files(root: Path) -> set[str]:
    base = root / CHECKED_ROOT
    if not base.is_dir():
        return set()
    return {path.relative_to(root).as_posix() for path in base.rglob("*") if path.is_file()}


def _applied_path(ks: Located, external, in_tree: set) -> str | None:
    """The folder of this repository a Kustomization applies: None when its source is another
    artifact of the tree (a missing source is the graph check's error, not a dead file)."""
    spec = spec_of(ks)
    ref = reference(spec.get("sourceRef"), ks.namespace)
    if ref is not None and not is_external(ref, external) and ref in in_tree:
        return None
    return normalized_path(spec.get("path"))


def _folder_files(tree: SourceTree, folder: str) -> set[str]:
    """Every file a build of `folder` reads."""
    root = Path(tree.root)
    found: set[str] = set()

    def visit(current: str) -> list[str]:
        name = kustomization_name(root / current)
        if name is None:
            return _generated(root, current, found)
        kustomization = posixpath.join(current, name)
        found.add(kustomization)
        documents = tree.source(kustomization).documents
        refs = KustomizeReferences()
        for index, doc in enumerate(documents):
            if isinstance(doc, dict):
                check_kustomization(root, kustomization, index, doc, refs)  # problems are reported by the scan
        found.update(refs.data_files | refs.patch_files | refs.config_files)
        return follow_resources(root, current, documents, found)

    walk_folders(folder, visit)
    return found


def _generated(root: Path, folder: str, found: set[str]) -> list[str]:
    """What kustomize-controller applies for a folder without a kustomization file: every YAML file
    below it (added to `found`), and sub-folders that have a kustomization file, built on their own
    (returned)."""
    folders: list[str] = []
    directory = root / folder
    if not directory.is_dir():
        return folders
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(root).as_posix()
        inner = path.relative_to(directory).parts
        if any(part.startswith(".") for part in inner):
            continue
        below_kustomization = any(has_kustomization(directory.joinpath(*inner[:depth])) for depth in range(1, len(inner)))
        if below_kustomization:  # that folder's kustomization file decides
            continue
        if path.is_dir() and has_kustomization(path):
            folders.append(rel)
        elif path.is_file() and path.suffix in (".yaml", ".yml"):
            found.add(rel)
    return folders
