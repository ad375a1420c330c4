"""Reading the rendered tree: every YAML file under `kubernetes/` and `bootstrap/`, parsed and sorted
by role.

Roles: `kustomize` (kustomization files), `helmfile` (bootstrap helmfile state files), `patch`
(strategic-merge or JSON6902 patches a kustomization references), `input` (generator inputs, Helm
values and transformer configs a kustomization references: data, not cluster objects), and `objects`
(everything else: Kubernetes objects). SOPS files are parsed like the rest; their metadata block is
dropped and their encrypted values neutralized (see `yamldocs.without_sops`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .helmfile import KIND_LABEL as HELMFILE_LABEL
from .helmfile import check_helmfile, is_helmfile
from .issues import IssueCollector, ValidationIssue
from .kustomize import KustomizeReferences, check_kustomization, is_kustomization_file
from .objects import Located
from .yamldocs import YamlSyntaxError, load_documents, without_sops

SCANNED_ROOTS = ("kubernetes", "bootstrap")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class SourceFile:
    rel: str
    documents: list[Any] = field(default_factory=list)  # None for an empty document
    role: str = "objects"
    error: str | None = None  # why the file could not be read or parsed
    text: str = ""

    @property
    def parsed(self) -> bool:
        return self.error is None


class SourceTree:
    """The parsed files of one tree, by path relative to the root."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.files: dict[str, SourceFile] = {}
        self._lock = threading.Lock()

    def object_documents(self) -> list[Located]:
        """Every non-empty document of every `objects` file, in path order."""
        return [Located(doc, source.rel, index)
                for source in self.files.values() if source.role == "objects" and source.parsed
                for index, doc in enumerate(source.documents) if doc is not None]

    def source(self, rel: str) -> SourceFile:
        """A file of the tree; one outside the scanned folders is parsed on first use."""
        with self._lock:
            source = self.files.get(rel)
        if source is None:
            source = _read(self.root, rel, None)
            with self._lock:
                source = self.files.setdefault(rel, source)
        return source


def scan_tree(root: Path, collector: IssueCollector) -> SourceTree:
    """Parse every YAML file of the scanned folders, check kustomization and helmfile files, and give
    each file its role. Problems go to `collector`."""
    tree = SourceTree(root)
    for rel in _yaml_files(tree.root):
        tree.files[rel] = _read(tree.root, rel, collector)
    references = KustomizeReferences()
    for rel, source in tree.files.items():
        if is_kustomization_file(rel):
            source.role = "kustomize"
            for index, doc in enumerate(source.documents):
                if doc is None:
                    continue
                collector.extend(check_kustomization(tree.root, rel, index, doc, references))
                kind = doc.get("kind", "Kustomization") if isinstance(doc, dict) else "Kustomization"
                collector.count(f"kustomize {kind}")
        elif is_helmfile(rel):
            source.role = "helmfile"
            for index, doc in enumerate(source.documents):
                if doc is not None:
                    collector.extend(check_helmfile(rel, index, doc))
                    collector.count(HELMFILE_LABEL)
    for rel, source in tree.files.items():
        if source.role != "objects":
            continue
        if rel in references.patch_files:
            source.role = "patch"
        elif rel in references.data_files or rel in references.config_files:
            source.role = "input"
            collector.count("kustomize input file")
    return tree


def _yaml_files(root: Path) -> list[str]:
    found = []
    for top in SCANNED_ROOTS:
        base = root / top
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            if path.is_file() and (path.name.endswith(YAML_SUFFIXES) or is_kustomization_file(path.name)):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def _read(root: Path, rel: str, collector: IssueCollector | None) -> SourceFile:
    source = SourceFile(rel)
    try:
        text = (root / rel).read_text(encoding="utf-8")
        documents = load_documents(text)
    except (OSError, UnicodeDecodeError) as exc:
        source.error = f"cannot read the file: {exc}"
    except YamlSyntaxError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        source.error = f"not valid YAML{where}: {exc}"
    if source.error is not None:
        _report(collector, ValidationIssue(rel, message=source.error))
        return source
    source.text = text
    source.documents = [without_sops(doc) for doc in documents]
    return source


def _report(collector: IssueCollector | None, issue: ValidationIssue) -> None:
    if collector is not None:
        collector.add(issue)
