"""Kubernetes objects: where each one came from, who it is, and its schema check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .issues import IssueCollector, ValidationIssue
from .patches import json_patch_problems, without_directives
from .schemas import SchemaHandle, SchemaStore, check, format_path
from .verdicts import Verdicts, checked
from .yamldocs import YamlSyntaxError, load_documents

FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"

# Core kinds kustomize treats as cluster-scoped (it does not give them a namespace).
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ClusterTrustBundle",
    "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "DeviceClass", "FlowSchema",
    "IngressClass", "IPAddress", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume", "PriorityClass",
    "PriorityLevelConfiguration", "ResourceSlice", "RuntimeClass", "ServiceCIDR", "StorageClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    "VolumeAttachment", "VolumeAttributesClass",
})


@dataclass
class Located:
    """A document and where it came from: a file of the tree (`origin` None), or kustomize output
    that could not be traced back to a file (`origin` = BUILD_ORIGIN, `file` = the built folder)."""

    data: Any
    file: str
    index: int
    origin: str | None = None

    @property
    def kind(self) -> str | None:
        return _str(self.data.get("kind")) if isinstance(self.data, Mapping) else None

    @property
    def group(self) -> str:
        return api_group(self.data.get("apiVersion")) if isinstance(self.data, Mapping) else ""

    @property
    def name(self) -> str | None:
        return _str(_metadata(self.data).get("name"))

    @property
    def namespace(self) -> str | None:
        return _str(_metadata(self.data).get("namespace"))

    def issue(self, path: str | Sequence = "", message: str = "") -> ValidationIssue:
        text = path if isinstance(path, str) else format_path(path)
        return ValidationIssue(self.file, self.index, self.kind, self.namespace, self.name, text, message,
                               self.origin)

    def is_kind(self, group: str, kind: str) -> bool:
        return self.group == group and self.kind == kind


def api_group(api_version: Any) -> str:
    if not isinstance(api_version, str) or "/" not in api_version:
        return ""
    return api_version.rsplit("/", 1)[0]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _metadata(data: Any) -> Mapping:
    metadata = data.get("metadata") if isinstance(data, Mapping) else None
    return metadata if isinstance(metadata, Mapping) else {}


def is_flux_kustomization(data: Any) -> bool:
    return isinstance(data, Mapping) and api_group(data.get("apiVersion")) == FLUX_KUSTOMIZE_GROUP \
        and data.get("kind") == "Kustomization"


class ObjectChecker:
    """Checks Kubernetes objects (whole, or as patches) against their schemas and counts them."""

    def __init__(self, store: SchemaStore, collector: IssueCollector, verdicts: Verdicts | None = None):
        self.store = store
        self.collector = collector
        self.verdicts = verdicts  # objects that passed before are not validated again

    def check_object(self, obj: Located) -> None:
        data = obj.data
        if not isinstance(data, Mapping):
            self.collector.add(obj.issue("", f"a Kubernetes object must be a mapping, not {type(data).__name__}"))
            return
        header_ok = True
        for field in ("apiVersion", "kind"):
            if not _str(data.get(field)):
                self.collector.add(obj.issue(field, f"a Kubernetes object needs {field} (a non-empty string)"))
                header_ok = False
        if not isinstance(data.get("metadata"), Mapping):
            self.collector.add(obj.issue("metadata", "a Kubernetes object needs metadata with a name"))
        elif obj.name is None:
            self.collector.add(obj.issue("metadata.name", "a Kubernetes object needs a name (a non-empty string)"))
        if not header_ok:
            return
        handle = self.store.for_object(data["apiVersion"], data["kind"])
        if handle is None:
            self.collector.add(obj.issue("", self._no_schema(data["apiVersion"], data["kind"])))
            return
        problems = checked(self.verdicts, handle.source, data, lambda: self._schema_problems(handle, data))
        for problem in problems:
            self.collector.add(obj.issue(problem.path, problem.message))
        self.collector.count(data["kind"])
        self._check_inline_patches(obj)

    def _schema_problems(self, handle: SchemaHandle, data: Mapping) -> list:
        problems = check(handle, data)
        if handle.is_crd and isinstance(data.get("metadata"), Mapping):
            problems += check(self.store.object_meta(), data["metadata"], prefix=["metadata"])
        return problems

    def check_patch(self, obj: Located, document: Any, prefix: Sequence[str | int] = ()) -> None:
        """A strategic-merge patch (mapping) or JSON6902 operations (list), located at `prefix`."""
        if isinstance(document, list):
            for path, message in json_patch_problems(document):
                self.collector.add(obj.issue([*prefix, *path], message))
            self.collector.count("JSON patch")
            return
        if not isinstance(document, Mapping):
            self.collector.add(obj.issue(list(prefix), f"a patch must be a mapping or a list, not {type(document).__name__}"))
            return
        api_version, kind = _str(document.get("apiVersion")), _str(document.get("kind"))
        if api_version is None or kind is None:
            self.collector.add(obj.issue(list(prefix), "a strategic-merge patch needs apiVersion and kind"))
            return
        handle = self.store.for_object(api_version, kind, relaxed=True)
        if handle is None:
            self.collector.add(obj.issue(list(prefix), self._no_schema(api_version, kind)))
            return
        cleaned = without_directives(document)
        problems = checked(self.verdicts, handle.source + "\0patch", cleaned,
                           lambda: check(handle, cleaned, prefix=prefix))
        for problem in problems:
            self.collector.add(obj.issue(problem.path, problem.message))
        self.collector.count(f"{kind} patch")
        if isinstance(cleaned, Mapping):
            self._check_inline_patches(Located(cleaned, obj.file, obj.index, obj.origin), prefix)

    def _check_inline_patches(self, obj: Located, prefix: Sequence[str | int] = ()) -> None:
        """Patches embedded as strings: a Flux Kustomization's `spec.patches[].patch` and a
        HelmRelease's `spec.postRenderers[].kustomize.patches[].patch`."""
        spec = obj.data.get("spec") if isinstance(obj.data, Mapping) else None
        if not isinstance(spec, Mapping):
            return
        embedded: list[tuple[list, Any]] = []
        if obj.is_kind(FLUX_KUSTOMIZE_GROUP, "Kustomization"):
            for i, entry in enumerate(_list(spec.get("patches"))):
                embedded.append((["spec", "patches", i, "patch"], entry.get("patch") if isinstance(entry, Mapping) else None))
        elif obj.is_kind(FLUX_HELM_GROUP, "HelmRelease"):
            for i, renderer in enumerate(_list(spec.get("postRenderers"))):
                kustomize = renderer.get("kustomize") if isinstance(renderer, Mapping) else None
                patches = kustomize.get("patches") if isinstance(kustomize, Mapping) else None
                for j, entry in enumerate(_list(patches)):
                    embedded.append((["spec", "postRenderers", i, "kustomize", "patches", j, "patch"],
                                     entry.get("patch") if isinstance(entry, Mapping) else None))
        for path, text in embedded:
            if not isinstance(text, str):
                continue
            where = [*prefix, *path]
            try:
                documents = [doc for doc in load_documents(text) if doc is not None]
            except YamlSyntaxError as exc:
                line = f" (line {exc.line} of the patch)" if exc.line else ""
                self.collector.add(obj.issue(where, f"the patch is not valid YAML: {exc}{line}"))
                continue
            for document in documents:
                self.check_patch(obj, document, where)

    def _no_schema(self, api_version: str, kind: str) -> str:
        group, _, version = api_version.rpartition("/")
        crd_hint = f"{self.store.crd_dir}/{group}/{kind.lower()}_{version}.json" if group else "no CRD group"
        return (f"no schema for {kind} ({api_version}): not a Kubernetes {self.store.core_dir.name.split('-')[0]} "
                f"kind, and no CRD schema at {crd_hint}")


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
