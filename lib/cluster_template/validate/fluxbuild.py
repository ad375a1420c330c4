"""Building what Flux would apply: every Flux Kustomization's `spec.path`, substituted and checked.

1. Discovery: the Kustomizations found in the tree point at directories; those are built (in
   parallel); the built output may hold more Kustomizations, whose directories are built next, until
   nothing new turns up.
2. Application, from the roots down (a Kustomization that no build contains is a root, e.g.
   `kubernetes/flux/cluster/ks.yaml`): for each Kustomization, take the build of its path, apply its
   post-build variables and `targetNamespace`, trace each object back to its source file, check it
   against its schema, and look for duplicates. Kustomizations in that output are handled the same
   way, so each object is seen with the namespace and values Flux would give it.
3. Documents of the tree that no build produced are checked as they are.

The result is the set of objects Flux would see (for the graph checks in `fluxgraph`).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClusterTemplateError
from ..nested import mapping_or_empty
from ..stopwatch import Stopwatch, stage
from .defaults import SourceKey
from .issues import BUILD_ORIGIN, IssueCollector, ValidationIssue
from .fluxpatch import apply_patches
from .kustomize import Build, BuildItem, Builder
from .objects import CLUSTER_SCOPED_KINDS, Located, ObjectChecker, api_group, is_flux_kustomization
from .scan import SourceTree
from .substitution import VARIABLE_NAME, Variables, substitute, substitution_disabled, variables_from_object
from .yamldocs import YamlSyntaxError, load_documents, without_sops


class ObjectIndex:
    """Object documents by (kind, name), resolved by namespace. An object whose namespace is not
    known (a file no build produced, without `metadata.namespace`) matches a reference from any
    namespace."""

    def __init__(self, objects: Iterable[Any] = ()):
        self._by_name: dict[tuple[str, str], list[tuple[str | None, Mapping]]] = defaultdict(list)
        for obj in objects:
            self.add(obj)

    def add(self, obj: Located | Any) -> None:
        data = obj.data if isinstance(obj, Located) else obj
        if not isinstance(data, Mapping):
            return
        kind, name, namespace = data.get("kind"), _name(data), _namespace(data)
        if isinstance(kind, str) and isinstance(name, str):
            self._by_name[(kind, name)].append((namespace if isinstance(namespace, str) else None, data))

    def find(self, kind: str, namespace: str | None, name: str) -> Mapping | None:
        candidates = self._by_name.get((kind, name), [])
        for candidate_namespace, data in candidates:
            if candidate_namespace == namespace:
                return data
        for candidate_namespace, data in candidates:
            if candidate_namespace is None or namespace is None:
                return data
        return None


def reference(spec_ref: Any, default_namespace: str | None) -> tuple[str, str | None, str] | None:
    """(kind, namespace, name) of a Flux cross-object reference; None when malformed (the schema
    check reports that)."""
    if not isinstance(spec_ref, Mapping):
        return None
    kind, name = spec_ref.get("kind"), spec_ref.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    namespace = spec_ref.get("namespace")
    return kind, namespace if isinstance(namespace, str) and namespace else default_namespace, name


def is_external(ref: tuple[str, str | None, str], external: frozenset[SourceKey]) -> bool:
    kind, namespace, name = ref
    return any(kind == e_kind and name == e_name and (namespace is None or namespace == e_namespace)
               for e_kind, e_namespace, e_name in external)


def spec_of(obj: Located) -> Mapping:
    spec = obj.data.get("spec") if isinstance(obj.data, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def normalized_path(value: Any) -> str | None:
    """A Kustomization's `spec.path` relative to the repository root ('.' for the root); None when
    it leaves the repository."""
    text = value if isinstance(value, str) else ""
    path = posixpath.normpath(text.lstrip("/") or ".")
    return None if path == ".." or path.startswith("../") else path


@dataclass
class _Parsed:
    data: Any
    error: str | None = None


class FluxBuilds:
    """Runs the discovery and application described in the module docstring."""

    def __init__(self, tree: SourceTree, builder: Builder, checker: ObjectChecker, collector: IssueCollector,
                 external_sources: frozenset[SourceKey]):
        self.tree = tree
        self.root = Path(tree.root)
        self.builder = builder
        self.checker = checker
        self.collector = collector
        self.external = external_sources
        self.top_level = tree.object_documents()
        self.builds: dict[str, Build] = {}
        self.raw: dict[str, list[_Parsed]] = {}
        self.sources = ObjectIndex(self.top_level)  # where substituteFrom and sourceRefs are looked up
        self._top_by_identity: dict[tuple[str, str, str], list[Located]] = defaultdict(list)
        for obj in self.top_level:
            if obj.kind and obj.name:
                self._top_by_identity[(obj.group, obj.kind, obj.name)].append(obj)

    # -- entry point ---------------------------------------------------------------------------

    def run(self, stopwatch: Stopwatch | None = None) -> list[Located]:
        with stage(stopwatch, "validate: kustomize builds"):
            self._discover()
        with stage(stopwatch, "validate: flux apply + object schemas"):
            return self._apply_all()

    def _apply_all(self) -> list[Located]:
        built_identities = {(api_group(p.data.get("apiVersion")), p.data.get("kind"), _name(p.data))
                            for parsed in self.raw.values() for p in parsed if isinstance(p.data, Mapping)}
        top_kustomizations = [obj for obj in self.top_level if is_flux_kustomization(obj.data)]
        # Roots first (no build contains them), then any Kustomization a failed build left unreached.
        ordered = sorted(top_kustomizations,
                         key=lambda obj: (obj.group, obj.kind, obj.name) in built_identities)
        covered: set[str] = set()  # files whose documents reached the cluster through a build
        handled: set[tuple[str | None, str | None]] = set()
        final: list[Located] = []
        for top in ordered:
            if top.file in covered:
                continue
            queue = [top]
            while queue:
                kustomization = queue.pop(0)
                key = (kustomization.namespace, kustomization.name)
                if key in handled:
                    continue
                handled.add(key)
                objects, inputs = self._apply(kustomization)
                covered.update(inputs)
                for obj in objects:
                    final.append(obj)
                    if obj.origin is None:
                        covered.add(obj.file)
                    if is_flux_kustomization(obj.data):
                        queue.append(obj)
        for obj in self.top_level:
            if obj.file not in covered:
                self.checker.check_object(obj)
                final.append(obj)
        return final

    # -- discovery -----------------------------------------------------------------------------

    def _discover(self) -> None:
        pending = {path for obj in self.top_level if is_flux_kustomization(obj.data)
                   if (path := self._local_path(obj)) is not None}
        while pending:
            try:
                results = self.builder.build_all(pending)
            except ClusterTemplateError as exc:  # kubectl missing: say so once, keep checking the rest
                self.collector.add(ValidationIssue(".", message=f"cannot build Flux Kustomization paths: {exc}"))
                results = {path: Build(path, failures=[f"not built: {exc}"]) for path in pending}
            pending = set()
            for path, build in results.items():
                self.builds[path] = build
                self.raw[path] = [self._item(item) for item in build.items]
                for parsed in self.raw[path]:
                    self.sources.add(parsed.data)
            for path in results:
                for parsed in self.raw[path]:
                    if is_flux_kustomization(parsed.data):
                        target = self._local_path(Located(parsed.data, path, 0, BUILD_ORIGIN))
                        if target is not None and target not in self.builds:
                            pending.add(target)

    def _local_path(self, kustomization: Located) -> str | None:
        """The directory of this tree a Kustomization applies, or None when its source is another
        artifact (an in-tree source object that is not one of the external sources) or the path
        does not exist (the graph check reports that)."""
        spec = spec_of(kustomization)
        ref = reference(spec.get("sourceRef"), kustomization.namespace)
        if ref is not None and not is_external(ref, self.external) \
                and self.sources.find(ref[0], ref[1], ref[2]) is not None:
            return None
        path = normalized_path(spec.get("path"))
        if path is None or not (self.root / path).is_dir():
            return None
        return path

    def _item(self, item: BuildItem) -> _Parsed:
        return _Parsed(without_sops(item.data)) if item.data is not None else self._parse(item.text)

    def _parse(self, text: str) -> _Parsed:
        try:
            documents = [doc for doc in load_documents(text) if doc is not None]
        except YamlSyntaxError as exc:
            return _Parsed(None, f"not valid YAML: {exc}")
        if not documents:
            return _Parsed(None, "an empty document")
        return _Parsed(without_sops(documents[0]))

    # -- application ---------------------------------------------------------------------------

    def _apply(self, kustomization: Located) -> tuple[list[Located], set[str]]:
        """Objects this Kustomization applies (checked), and the files its build consumed; nothing
        when its path is not built here."""
        path = self._local_path(kustomization)
        if path is None:
            return [], set()
        if path not in self.builds:  # a path only a substituted parent revealed
            try:
                build = self.builder.build(path)
            except ClusterTemplateError as exc:
                build = Build(path, failures=[f"not built: {exc}"])
            self.builds[path] = build
            self.raw[path] = [self._item(item) for item in build.items]
        build = self.builds[path]
        for failure in build.failures:
            self.collector.add(kustomization.issue("spec.path", failure))
        variables = self._variables(kustomization)
        spec = spec_of(kustomization)
        target_namespace = spec.get("targetNamespace") if isinstance(spec.get("targetNamespace"), str) else None
        objects: list[Located] = []
        for index, (item, raw) in enumerate(zip(build.items, self.raw[path])):
            data, problems = self._final_data(item.text, raw, variables)
            if isinstance(data, Mapping) and target_namespace:
                data = _with_namespace(data, target_namespace)
            data, patch_problems = apply_patches(data, spec.get("patches"))
            problems += patch_problems
            obj = self._locate(data, item.source, build, index)
            for message in problems:
                self.collector.add(obj.issue("", f"{message} (Kustomization {_ident(kustomization)})"))
            if data is None:
                continue
            objects.append(obj)
        self._report_duplicates(objects, path)
        for obj in objects:
            self.checker.check_object(obj)
        return objects, build.inputs

    def _final_data(self, text: str, raw: _Parsed, variables: Variables | None) -> tuple[Any, list[str]]:
        if raw.error is not None:
            return None, [f"kustomize output is unusable: {raw.error}"]
        if variables is None or substitution_disabled(raw.data) or "$" not in text:
            return raw.data, []
        result = substitute(text, variables)
        problems = [f"variable ${{{name}}} has no value (not in postBuild.substitute or substituteFrom) "
                    f"and no default" for name in result.undefined]
        problems += [f"unsupported substitution expression {expr!r} (escape a literal one as $${{...}})"
                     for expr in result.unsupported]
        if result.text == text:
            return raw.data, problems
        parsed = self._parse(result.text)
        if parsed.error is not None:
            return None, problems + [f"after variable substitution the document is {parsed.error}"]
        return parsed.data, problems

    def _variables(self, kustomization: Located) -> Variables | None:
        """The post-build variables of a Kustomization; None when it does not substitute."""
        post_build = spec_of(kustomization).get("postBuild")
        if not isinstance(post_build, Mapping):
            return None
        variables = Variables()
        for i, entry in enumerate(_list(post_build.get("substituteFrom"))):
            ref = reference(entry, kustomization.namespace)
            if ref is None:
                continue
            found = self.sources.find(*ref)
            if found is None:
                if not (isinstance(entry, Mapping) and entry.get("optional") is True):
                    self.collector.add(kustomization.issue(
                        ["spec", "postBuild", "substituteFrom", i],
                        f"{ref[0]} {_ref_text(ref)} not found in the tree (mark it optional if it is created elsewhere)"))
                continue
            variables.update(variables_from_object(found))
        substitute_map = post_build.get("substitute")
        if isinstance(substitute_map, Mapping):
            for name, value in substitute_map.items():
                if not VARIABLE_NAME.match(str(name)):
                    self.collector.add(kustomization.issue(
                        ["spec", "postBuild", "substitute", str(name)],
                        "not a valid variable name (letters, digits and '_', not starting with a digit)"))
                variables.set(str(name), "" if value is None else str(value))
        return variables

    def _locate(self, data: Any, source: tuple[str, int] | None, build: Build, index: int) -> Located:
        """Trace a built object back to the document of the tree it came from: same group, kind and
        name (preferring a file the build read, then the same namespace), or else, for an object
        kustomize renamed (namePrefix/nameSuffix), the one document of that kind among the build's
        files whose name the new name contains."""
        if source is not None:
            return Located(data, source[0], source[1])
        if isinstance(data, Mapping):
            group, kind, name = api_group(data.get("apiVersion")), data.get("kind"), _name(data)
            # Only objects with a kind and a name are indexed, so an object without either has no candidate.
            candidates = self._top_by_identity.get((group, kind, name), []) if kind and name else []
            if candidates:
                namespace = _namespace(data)
                best = min(candidates, key=lambda c: (c.file not in build.inputs, c.namespace != namespace,
                                                      c.file, c.index))
                return Located(data, best.file, best.index)
            if isinstance(name, str):
                renamed = [obj for (c_group, c_kind, c_name), objs in self._top_by_identity.items()
                           if c_group == group and c_kind == kind and c_name in name
                           for obj in objs if obj.file in build.inputs]
                if len(renamed) == 1:
                    return Located(data, renamed[0].file, renamed[0].index)
        return Located(data, build.path, index, BUILD_ORIGIN)

    def _report_duplicates(self, objects: list[Located], path: str) -> None:
        seen: dict[tuple, Located] = {}
        for obj in objects:
            if not isinstance(obj.data, Mapping) or obj.name is None:
                continue
            key = (obj.group, obj.kind, obj.namespace, obj.name)
            first = seen.setdefault(key, obj)
            if first is not obj:
                where = first.file if first.origin is None else f"{first.file} ({first.origin})"
                self.collector.add(obj.issue("", f"duplicate object in the build of {path}: "
                                                 f"the same {obj.kind} is also produced by {where}[{first.index}]"))


def _with_namespace(data: Mapping, namespace: str) -> Mapping:
    if data.get("kind") in CLUSTER_SCOPED_KINDS:
        return data
    metadata = dict(mapping_or_empty(data.get("metadata")))
    metadata["namespace"] = namespace
    return {**data, "metadata": metadata}


def _name(data: Mapping) -> str | None:
    metadata = data.get("metadata")
    return metadata.get("name") if isinstance(metadata, Mapping) else None


def _namespace(data: Mapping) -> str | None:
    metadata = data.get("metadata")
    return metadata.get("namespace") if isinstance(metadata, Mapping) else None


def _ident(obj: Located) -> str:
    return f"{obj.namespace}/{obj.name}" if obj.namespace else str(obj.name)


def _ref_text(ref: tuple[str, str | None, str]) -> str:
    return f"{ref[1]}/{ref[2]}" if ref[1] else ref[2]


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
