"""Kustomize: checking `kustomization.yaml` files, and building directories like Flux does.

A `kustomization.yaml` is a kustomize config (kustomize.config.k8s.io Kustomization or Component), not
a cluster object. It is checked for unknown fields (kustomize itself refuses them) and for local
references that do not exist. The files it references as generator inputs, patches or transformer
configs are recorded, so the tree scan does not mistake them for cluster objects.

Building follows kustomize-controller: a directory with a kustomization file is built like
`kubectl kustomize --load-restrictor=LoadRestrictionsNone` — in process when it stays inside the
subset `kustbuild` implements, else by kubectl, whose successful output is cached by a digest of
every file it could have read (`buildcache`); a directory without one gets the kustomization Flux
would generate: every `*.yaml`/`*.yml` file below it, plus every subdirectory that has a
kustomization file, built on its own (Flux does not descend into those).
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import CommandTimeout
from ..run import Executor
from ..tools.kubectl import find_kubectl, kustomize_argv
from .issues import ValidationIssue
from .schemas import format_path
from .yamldocs import document_texts, dump_document, split_stream

if TYPE_CHECKING:
    from .buildcache import BuildCache

KUSTOMIZATION_FILENAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZE_API_GROUP = "kustomize.config.k8s.io"
# Every top-level field kustomize v5 accepts (checked against kubectl 1.37 / kustomize v5.8).
KNOWN_FIELDS = frozenset({
    "apiVersion", "kind", "metadata", "resources", "components", "crds", "namespace", "namePrefix",
    "nameSuffix", "commonLabels", "labels", "commonAnnotations", "patches", "patchesStrategicMerge",
    "patchesJson6902", "images", "replicas", "configMapGenerator", "secretGenerator", "generatorOptions",
    "vars", "replacements", "configurations", "generators", "transformers", "validators", "openapi",
    "helmCharts", "helmGlobals", "helmChartInflationGenerator", "buildMetadata", "sortOptions", "bases",
    "imageTags",
})
_KINDS = {"Kustomization": "v1beta1", "Component": "v1alpha1"}
BUILD_TIMEOUT = 120.0
_STDERR_LINES = 6


def is_kustomization_file(path: str) -> bool:
    return posixpath.basename(path) in KUSTOMIZATION_FILENAMES


def has_kustomization(directory: Path) -> bool:
    return kustomization_name(directory) is not None


@dataclass
class KustomizeReferences:
    """Files that kustomization files use as something other than cluster objects."""

    data_files: set[str] = field(default_factory=set)      # generator inputs, Helm values
    patch_files: set[str] = field(default_factory=set)     # strategic-merge or JSON6902 patches
    config_files: set[str] = field(default_factory=set)    # transformer/generator/replacement configs


def check_kustomization(root: Path, rel: str, index: int, doc: Any,
                        refs: KustomizeReferences) -> list[ValidationIssue]:
    """Check one kustomization document and record the files it references in `refs`."""
    issues: list[ValidationIssue] = []

    def problem(path: list, message: str) -> None:
        issues.append(ValidationIssue(rel, index, kind=kind_label, path=format_path(path), message=message))

    kind_label = "kustomize Kustomization"
    if not isinstance(doc, dict):
        problem([], f"a kustomization must be a mapping, not {type(doc).__name__}")
        return issues
    kind = doc.get("kind", "Kustomization")
    kind_label = f"kustomize {kind}"
    api_version = doc.get("apiVersion")
    if kind not in _KINDS:
        problem(["kind"], f"{kind!r} is not a kustomize kind (expected Kustomization or Component)")
    elif api_version is not None and api_version != f"{KUSTOMIZE_API_GROUP}/{_KINDS[kind]}":
        problem(["apiVersion"], f"{kind} needs apiVersion {KUSTOMIZE_API_GROUP}/{_KINDS[kind]}, not {api_version!r}")
    for key in doc:
        if key not in KNOWN_FIELDS:
            problem([str(key)], f"unknown kustomize field {key!r}")

    base = posixpath.dirname(rel)

    def local(entry: Any, path: list, *, into: set[str] | None, may_be_inline: bool = False,
              may_be_dir: bool = True) -> None:
        if not isinstance(entry, str):
            problem(path, f"expected a path string, not {type(entry).__name__}")
            return
        if _is_remote(entry) or (may_be_inline and ("\n" in entry or ": " in entry)):
            return
        target = posixpath.normpath(posixpath.join(base, entry))
        full = root / target
        if target.startswith("../") or target == "..":
            problem(path, f"{entry!r} points outside the repository")
        elif full.is_file():
            if into is not None:
                into.add(target)
        elif not (may_be_dir and full.is_dir()):
            problem(path, f"{entry!r} does not exist ({target})")

    for field_name in ("resources", "components", "bases"):
        for i, entry in enumerate(_list(doc.get(field_name))):
            local(entry, [field_name, i], into=None)
    for field_name in ("configurations", "crds"):
        for i, entry in enumerate(_list(doc.get(field_name))):
            local(entry, [field_name, i], into=refs.config_files, may_be_dir=False)
    for field_name in ("generators", "transformers", "validators"):
        for i, entry in enumerate(_list(doc.get(field_name))):
            local(entry, [field_name, i], into=refs.config_files, may_be_inline=True)
    for i, entry in enumerate(_list(doc.get("patches"))):
        if isinstance(entry, dict) and "path" in entry:
            local(entry["path"], ["patches", i, "path"], into=refs.patch_files, may_be_dir=False)
    for i, entry in enumerate(_list(doc.get("patchesStrategicMerge"))):
        local(entry, ["patchesStrategicMerge", i], into=refs.patch_files, may_be_inline=True, may_be_dir=False)
    for i, entry in enumerate(_list(doc.get("patchesJson6902"))):
        if isinstance(entry, dict) and "path" in entry:
            local(entry["path"], ["patchesJson6902", i, "path"], into=refs.patch_files, may_be_dir=False)
    for i, entry in enumerate(_list(doc.get("replacements"))):
        if isinstance(entry, dict) and "path" in entry:
            local(entry["path"], ["replacements", i, "path"], into=refs.config_files, may_be_dir=False)
    openapi = doc.get("openapi")
    if isinstance(openapi, dict) and "path" in openapi:
        local(openapi["path"], ["openapi", "path"], into=refs.config_files, may_be_dir=False)
    for generator in ("configMapGenerator", "secretGenerator"):
        for i, entry in enumerate(_list(doc.get(generator))):
            if not isinstance(entry, dict):
                continue
            for j, source in enumerate(_list(entry.get("files"))):
                name = source.split("=", 1)[-1] if isinstance(source, str) else source
                local(name, [generator, i, "files", j], into=refs.data_files, may_be_dir=False)
            for j, source in enumerate(_list(entry.get("envs"))):
                local(source, [generator, i, "envs", j], into=refs.data_files, may_be_dir=False)
            if "env" in entry:
                local(entry["env"], [generator, i, "env"], into=refs.data_files, may_be_dir=False)
    for i, entry in enumerate(_list(doc.get("helmCharts"))):
        if isinstance(entry, dict) and "valuesFile" in entry:
            local(entry["valuesFile"], ["helmCharts", i, "valuesFile"], into=refs.data_files, may_be_dir=False)
    return issues


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _is_remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "gitlab.com/", "bitbucket.org/", "git@")) \
        or "?ref=" in entry


# -- builds ------------------------------------------------------------------------------------


@dataclass
class BuildItem:
    """One built document, as text (Flux substitutes variables in text)."""

    text: str
    source: tuple[str, int] | None = None  # (file, document index) when it came straight from a file
    data: Any = None  # the parsed object when the build already has it (in-process builds)


@dataclass
class Build:
    """The result of building one Flux Kustomization path."""

    path: str                                   # directory relative to the root
    items: list[BuildItem] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    inputs: set[str] = field(default_factory=set)  # files of the tree a successful build consumed


class FileSource(Protocol):
    """Where the builder reads plain files (the scanned tree)."""

    root: Path

    def source(self, rel: str) -> Any: ...  # a scan.SourceFile: .text, .documents, .error


class Builder:
    """Builds directories of one tree with `kubectl kustomize`, several at a time."""

    def __init__(self, root: Path, executor: Executor, files: FileSource, *, workers: int = 3,
                 kubectl: str | None = None, in_process: bool = True, cache: BuildCache | None = None):
        self.root = Path(root)
        self.executor = executor
        self.files = files
        self.workers = max(1, min(4, workers))
        self.in_process = in_process  # False: every kustomization goes to kubectl (equivalence tests)
        self.cache = cache
        self._kubectl_wanted = kubectl
        self._kubectl: str | None = None
        self._lock = threading.Lock()
        self.methods: dict[str, str] = {}  # directory -> "in-process" | "cached" | "kubectl"

    def kubectl(self) -> str:
        """The kubectl to run (see `tools.kubectl.find_kubectl`), found once."""
        with self._lock:
            if self._kubectl is None:
                self._kubectl = find_kubectl(self.executor, self._kubectl_wanted)
            return self._kubectl

    def build_all(self, paths: Iterable[str]) -> dict[str, Build]:
        """Build every directory (relative to the root); independent builds run in parallel."""
        ordered = sorted(set(paths))
        if not ordered:
            return {}
        if len(ordered) == 1 or self.workers == 1:
            return {path: self.build(path) for path in ordered}
        with ThreadPoolExecutor(max_workers=min(self.workers, len(ordered))) as pool:
            return dict(zip(ordered, pool.map(self.build, ordered)))

    def build(self, rel: str) -> Build:
        result = Build(rel)
        directory = self.root / rel
        if has_kustomization(directory):
            self._kustomize(rel, result)
        else:
            self._generated(rel, result)
        return result

    def _kustomize(self, rel: str, result: Build) -> None:
        if self.in_process:
            from .kustbuild import build_in_process

            built = build_in_process(rel, self.files)
            if built is not None:
                self._record(rel, "in-process")
                result.items.extend(BuildItem(item.text, data=item.data) for item in built)
                result.inputs.update(resource_files(rel, self.files))
                return
        cache = self.cache
        key = cache.key(self.root, rel, self.kubectl()) if cache is not None else None
        stdout = cache.get(key) if cache is not None and key is not None else None
        if stdout is None:
            stdout = self._run_kubectl(rel, result)
            if stdout is None:
                return
            if cache is not None and key is not None and not self.executor.dry:
                cache.put(key, stdout)
            self._record(rel, "kubectl")
        else:
            self._record(rel, "cached")
        result.items.extend(BuildItem(text) for text in split_stream(stdout))
        result.inputs.update(resource_files(rel, self.files))

    def _run_kubectl(self, rel: str, result: Build) -> str | None:
        """kubectl's output, or None with the failure recorded in `result` (failures are never cached)."""
        argv = kustomize_argv(self.kubectl(), self.root / rel)
        try:
            completed = self.executor.run(argv, readonly=True, check=False, timeout=BUILD_TIMEOUT)
        except CommandTimeout as exc:
            result.failures.append(f"kubectl kustomize {rel}: {exc}")
            return None
        if completed.returncode != 0:
            result.failures.append(f"kubectl kustomize {rel} failed: {self._stderr(completed.stderr)}")
            return None
        return completed.stdout

    def _record(self, rel: str, method: str) -> None:
        with self._lock:
            self.methods[rel] = method

    def _generated(self, rel: str, result: Build) -> None:
        # What kustomize-controller generates for a path without a kustomization file.
        directory = self.root / rel
        for current, dirnames, filenames in walk_sorted(directory):
            current_rel = posixpath.normpath(posixpath.join(rel, current.relative_to(directory).as_posix()))
            for name in sorted(dirnames):
                if name.startswith("."):
                    dirnames.remove(name)
                elif has_kustomization(current / name):
                    dirnames.remove(name)
                    self._kustomize(posixpath.normpath(posixpath.join(current_rel, name)), result)
            for name in sorted(filenames):
                if name.endswith((".yaml", ".yml")):
                    file_rel = posixpath.normpath(posixpath.join(current_rel, name))
                    source = self.files.source(file_rel)
                    if source.error is not None:
                        result.failures.append(f"{file_rel}: {source.error}")
                    texts = iter(document_texts(source.text, source.documents) or ())
                    for index, doc in enumerate(source.documents):
                        if doc is not None:
                            text = next(texts, None) or dump_document(doc)
                            result.items.append(BuildItem(text, (file_rel, index)))
                    result.inputs.add(file_rel)

    def _stderr(self, stderr: str) -> str:
        lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("# Warning")]
        text = " | ".join(lines[-_STDERR_LINES:]) or "no error output"
        return text.replace(str(self.root) + "/", "").replace(str(self.root), ".")


def resource_files(directory: str, files: FileSource) -> set[str]:
    """The files a kustomize build of `directory` reads as resources: its kustomization's
    `resources`, `components` and `bases` entries, following directories recursively."""
    found: set[str] = set()

    def visit(folder: str) -> list[str]:
        name = kustomization_name(files.root / folder)
        if name is None:
            return []
        return follow_resources(files.root, folder, files.source(posixpath.join(folder, name)).documents, found)

    walk_folders(directory, visit)
    return found


def kustomization_name(directory: Path) -> str | None:
    """The name of the kustomization file in `directory` (the first kustomize looks for), or None."""
    return next((name for name in KUSTOMIZATION_FILENAMES if (directory / name).is_file()), None)


def walk_folders(start: str, visit: Callable[[str], Iterable[str]]) -> None:
    """Call `visit` on `start` and, transitively, on every folder it returns, once each (two
    kustomizations may name the same folder)."""
    pending, seen = [start], set()
    while pending:
        folder = pending.pop()
        if folder not in seen:
            seen.add(folder)
            pending.extend(visit(folder))


def follow_resources(root: Path, folder: str, documents: Iterable[Any], found: set[str]) -> list[str]:
    """The local `resources`, `components` and `bases` entries of the kustomization documents of
    `folder`: files are added to `found`, folders returned (to be walked in turn)."""
    folders = []
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        for field_name in ("resources", "components", "bases"):
            for entry in _list(doc.get(field_name)):
                if not isinstance(entry, str) or _is_remote(entry):
                    continue
                target = posixpath.normpath(posixpath.join(folder, entry))
                (folders.append(target) if (root / target).is_dir() else found.add(target))
    return folders


def walk_sorted(directory: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk in sorted order (names sorted in place, so the caller may still prune `dirnames`)."""
    for current, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        filenames.sort()
        yield Path(current), dirnames, filenames
