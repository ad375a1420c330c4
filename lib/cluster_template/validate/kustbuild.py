"""An in-process `kustomize build` for the small subset of kustomize the templates use, so most
Flux Kustomization paths are built without starting a `kubectl` process.

The subset: kustomization files with only `apiVersion`, `kind`, `resources` (local files and
directories), `components` (local directories of `kind: Component`) and `namespace`; resource files of
plain Kubernetes objects. Within it the result is what kustomize v5 produces:

- resources are read in order; a directory is built on its own (its own namespace applied) and
  appended; components are accumulated after the resources, into the same set, before the
  kustomization's own transformers run (kustomize's `accumulateTarget`);
- `namespace` sets `metadata.namespace` on every object kustomize does not know to be
  cluster-scoped (its built-in OpenAPI data: an unknown kind, a CRD's objects for instance, is
  namespaced), and renames `Namespace` objects to it;
- the output is in kustomize's legacy order (`sortOptions` absent), which is a total order.

Anything else returns None, and the caller runs the real `kubectl kustomize`, so every error message
(a missing resource, a duplicate object id, a cycle, a malformed file) is kustomize's own, and every
feature outside the subset gets kustomize's semantics: an unknown kustomization field, a resource
that needs kustomize's special handling (RoleBindings, APIServices, CRDs, Lists), YAML that Go's
parser reads differently from ours (anchors, tags, dates, leading-zero numbers), a string with a
`$` that Flux would substitute in a form whose YAML quoting is not certain. The equivalence test
(`tests/validate/test_kustbuild.py`) builds every path of the all-components render both ways.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..nested import strings_in

KUSTOMIZATION_FILENAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = frozenset({"apiVersion", "kind", "resources", "components", "namespace"})
_API_VERSIONS = {"Kustomization": "kustomize.config.k8s.io/v1beta1", "Component": "kustomize.config.k8s.io/v1alpha1"}

# (apiVersion, kind) that kustomize's built-in OpenAPI data (kyaml `precomputedIsNamespaceScoped`,
# Kubernetes 1.21.2) marks cluster-scoped. Only these keep no namespace; any other kind is namespaced
# for kustomize, including newer core kinds it does not know.
KUSTOMIZE_CLUSTER_SCOPED = frozenset({
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ("apiregistration.k8s.io/v1", "APIService"),
    ("apiregistration.k8s.io/v1beta1", "APIService"),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
    ("node.k8s.io/v1beta1", "RuntimeClass"),
    ("policy/v1beta1", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("scheduling.k8s.io/v1beta1", "PriorityClass"),
    ("storage.k8s.io/v1", "CSIDriver"),
    ("storage.k8s.io/v1", "CSINode"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("storage.k8s.io/v1", "VolumeAttachment"),
    ("storage.k8s.io/v1beta1", "CSIDriver"),
    ("storage.k8s.io/v1beta1", "CSINode"),
    ("storage.k8s.io/v1beta1", "StorageClass"),
    ("storage.k8s.io/v1beta1", "VolumeAttachment"),
    ("v1", "ComponentStatus"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "NodeProxyOptions"),
    ("v1", "PersistentVolume"),
})
# Kinds the namespace transformer treats specially (subjects, service references, renames) beyond
# what is implemented here; a build with one of them under a namespace goes to kustomize.
_SPECIAL_UNDER_NAMESPACE = frozenset({"RoleBinding", "ClusterRoleBinding", "APIService", "CustomResourceDefinition"})
# kustomize's legacy order (kyaml resid orderFirst / orderLast).
_ORDER_FIRST = ("Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
                "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
                "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
                "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget")
_ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_TYPE_ORDER = {**{kind: index - len(_ORDER_FIRST) for index, kind in enumerate(_ORDER_FIRST)},
               **{kind: index + 1 for index, kind in enumerate(_ORDER_LAST)}}

# A quick look for YAML that Go's parser (kustomize) and ours may read differently, or that
# kustomize rewrites: anchors, aliases and merge keys, tags, directives, dates, leading-zero numbers.
# A file that matches is looked at precisely (`_divergent`).
_MAYBE_DIVERGENT = re.compile(r"[&*!]|<<|^%|\b0[0-9]|\d{4}-\d\d?-\d\d?", re.MULTILINE)
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
_DATE = re.compile(r"\d{4}-\d\d?-\d\d?")


class FileSource(Protocol):
    root: Path

    def source(self, rel: str) -> Any: ...  # a scan.SourceFile: .text, .documents, .error


@dataclass
class BuiltObject:
    """One object of an in-process build: its data and the text Flux would substitute in."""

    data: Mapping
    text: str


class OutsideSubset(Exception):
    """The build needs kustomize itself."""


def build_in_process(directory: str, files: FileSource) -> list[BuiltObject] | None:
    """The objects `kubectl kustomize <directory>` prints, in its order; None when the directory uses
    anything outside the subset (then kubectl must build it)."""
    try:
        objects = _Build(files).directory(directory, component=False, ancestors=())
        identities = [_identity(data) for data in objects]
        if len(set(identities)) != len(identities):
            raise OutsideSubset("duplicate object ids")  # kustomize names them
        ordered = sorted(objects, key=functools.cmp_to_key(_legacy_compare))
        return [BuiltObject(data, _substitution_text(data)) for data in ordered]
    except OutsideSubset:
        return None


class _Build:
    def __init__(self, files: FileSource):
        self.files = files
        self.root = Path(files.root)

    def directory(self, rel: str, *, component: bool, ancestors: tuple[str, ...],
                  into: list[Mapping] | None = None) -> list[Mapping]:
        if rel in ancestors or rel == ".." or rel.startswith("../"):
            raise OutsideSubset("cycle or outside the tree")
        names = [name for name in KUSTOMIZATION_FILENAMES if (self.root / rel / name).is_file()]
        if len(names) != 1:
            raise OutsideSubset("no kustomization file, or several")
        kustomization = self._kustomization(posixpath.join(rel, names[0]), component)
        ancestors = (*ancestors, rel)
        accumulated: list[Mapping] = [] if into is None else into
        for entry in _entries(kustomization, "resources"):
            target = _local(rel, entry)
            if (self.root / target).is_dir():
                accumulated.extend(self.directory(target, component=False, ancestors=ancestors))
            elif (self.root / target).is_file():
                accumulated.extend(self._resource_file(target))
            else:
                raise OutsideSubset("missing resource")
        for entry in _entries(kustomization, "components"):
            target = _local(rel, entry)
            if not (self.root / target).is_dir():
                raise OutsideSubset("a component that is not a directory")
            self.directory(target, component=True, ancestors=ancestors, into=accumulated)
        namespace = kustomization.get("namespace")
        if namespace is not None:
            if not isinstance(namespace, str) or not namespace:
                raise OutsideSubset("namespace is not a string")
            accumulated[:] = [_with_namespace(data, namespace) for data in accumulated]
        return accumulated

    def _kustomization(self, rel: str, component: bool) -> Mapping:
        source = self.files.source(rel)
        documents = [doc for doc in source.documents if doc is not None]
        if source.error is not None or len(documents) != 1 or not isinstance(documents[0], dict) \
                or _divergent(source.text):
            raise OutsideSubset("kustomization file")
        doc = documents[0]
        kind = doc.get("kind", "Kustomization")
        if set(doc) - SUPPORTED_FIELDS or kind != ("Component" if component else "Kustomization") \
                or doc.get("apiVersion", _API_VERSIONS[kind]) != _API_VERSIONS[kind]:
            raise OutsideSubset("kustomization outside the subset")
        return doc

    def _resource_file(self, rel: str) -> list[Mapping]:
        source = self.files.source(rel)
        if source.error is not None or _divergent(source.text):
            raise OutsideSubset("resource file")
        objects = []
        for doc in source.documents:
            if doc is None:
                continue
            if not _plain_object(doc):
                raise OutsideSubset("not a plain object")
            objects.append(doc)
        return objects


def _entries(kustomization: Mapping, field: str) -> list[str]:
    entries = kustomization.get(field)
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(entry, str) and entry for entry in entries):
        raise OutsideSubset(f"{field} is not a list of paths")
    return entries


def _local(base: str, entry: str) -> str:
    if "://" in entry or "?" in entry or entry.startswith(("github.com/", "gitlab.com/", "git@", "/")):
        raise OutsideSubset("remote resource")
    return posixpath.normpath(posixpath.join(base, entry))


def _plain_object(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    api_version, kind, metadata = doc.get("apiVersion"), doc.get("kind"), doc.get("metadata")
    return (isinstance(api_version, str) and bool(api_version) and isinstance(kind, str) and bool(kind)
            and not kind.endswith("List") and not api_version.startswith("kustomize.config.k8s.io")
            and isinstance(metadata, dict) and isinstance(metadata.get("name"), str) and bool(metadata["name"])
            and isinstance(metadata.get("namespace", ""), str))


def _cluster_scoped(data: Mapping) -> bool:
    return (data["apiVersion"], data["kind"]) in KUSTOMIZE_CLUSTER_SCOPED


def _with_namespace(data: Mapping, namespace: str) -> Mapping:
    kind = data["kind"]
    if kind in _SPECIAL_UNDER_NAMESPACE:
        raise OutsideSubset(f"{kind} under a namespace")
    metadata = dict(data["metadata"])
    if kind == "Namespace":
        if data["apiVersion"] != "v1" or metadata["name"] != namespace:
            raise OutsideSubset("a Namespace renamed by the namespace transformer")
        return data
    if _cluster_scoped(data) or metadata.get("namespace") == namespace:
        return data
    metadata["namespace"] = namespace
    return {**data, "metadata": metadata}


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _identity(data: Mapping) -> tuple[str, str, str, str, str]:
    """kustomize's ResId equality: group, version, kind, name and the effective namespace."""
    group, version = _group_version(data["apiVersion"])
    namespace = data["metadata"].get("namespace") or ""
    if _cluster_scoped(data):
        namespace = "<cluster>"
    elif namespace in ("", "default"):
        namespace = "default"
    return group, version, data["kind"], data["metadata"]["name"], namespace


def _legacy_gvk(group: str, version: str, kind: str) -> str:
    return "_".join((group or "~G", version or "~V", kind or "~K"))


def _legacy_compare(left: Mapping, right: Mapping) -> int:
    """kustomize's legacyIDSorter.Less, as a comparison."""
    (lg, lv), (rg, rv) = _group_version(left["apiVersion"]), _group_version(right["apiVersion"])
    lk, rk = left["kind"], right["kind"]
    if (lg, lv, lk) != (rg, rv, rk):
        li, ri = _TYPE_ORDER.get(lk, 0), _TYPE_ORDER.get(rk, 0)
        if li != ri:
            return -1 if li < ri else 1
        ls, rs = _legacy_gvk(lg, lv, lk), _legacy_gvk(rg, rv, rk)
        if lk == rk == "Namespace" and (lg == "" or rg == ""):
            ls, rs = rs, ls
        return (ls > rs) - (ls < rs)
    ls, rs = _legacy_id(left), _legacy_id(right)
    return (ls > rs) - (ls < rs)


def _legacy_id(data: Mapping) -> str:
    # Within one group/version/kind only namespace and name differ: "<ns or ~X>|<name or ~N>".
    return f"{data['metadata'].get('namespace') or '~X'}|{data['metadata']['name'] or '~N'}"


def _divergent(text: str) -> bool:
    """Whether `text` uses YAML that Go's parser may read differently from ours: anchors, aliases,
    tags, merge keys, directives, and plain scalars that are dates or leading-zero numbers."""
    if not _MAYBE_DIVERGENT.search(text):
        return False
    try:
        import yaml
    except ImportError:
        return True
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                return True
            if isinstance(event, yaml.DocumentStartEvent) and (event.version or event.tags):
                return True
            if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)) \
                    and event.tag is not None:  # an explicit tag
                return True
            if isinstance(event, yaml.ScalarEvent) and event.style is None and \
                    (event.value == "<<" or _LEADING_ZERO.fullmatch(event.value) or _DATE.match(event.value)):
                return True
    except yaml.YAMLError:
        return True
    return False


def _substitution_text(data: Mapping) -> str:
    """The object as text for Flux's variable substitution, which works on kustomize's output: the
    object printed by go-yaml (keys sorted, strings quoted only where YAML needs it, multi-line
    strings as literal blocks). Only objects with a `${` need it; libyaml's emitter, which go-yaml's
    is a port of, makes the same choice of style for those strings. Anything that does not read
    back as the object goes to kubectl."""
    if not any("${" in value for value in strings_in(data, keys=True)):
        return "{}\n"  # never substituted: the data is used as it is
    try:
        import yaml
    except ImportError:
        raise OutsideSubset("no YAML emitter") from None
    text = yaml.dump(data, Dumper=_literal_dumper(yaml), sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=80)
    from .yamldocs import load_documents

    if load_documents(text) != [data]:
        raise OutsideSubset("text does not read back")
    return text


@functools.lru_cache(maxsize=1)
def _literal_dumper(yaml):
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class LiteralDumper(base):  # go-yaml prints a string with a line break as a literal block
        pass

    def represent_str(dumper, value: str):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    LiteralDumper.add_representer(str, represent_str)
    return LiteralDumper
