"""Which URL serves a kind: API discovery (the DynamicClient's, with its cache), plus the kinds that
CustomResourceDefinitions in the same batch are about to add, which no discovery can know yet."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from ..nested import mapping_or_empty
from .transport import KubeTransport

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"


@dataclass(frozen=True)
class ResourceType:
    """A kind as the API serves it: `api_version` is "v1" or "<group>/<version>"."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def collection_path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if not self.group else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{quote(name, safe='')}"


class Discovery:
    """Which kinds the API serves, through the DynamicClient's discovery: it caches what it found
    and discovers again whenever a kind is missing (a CRD may have been installed since)."""

    def __init__(self, transport: KubeTransport):
        self._transport = transport

    def resource(self, api_version: str, kind: str) -> ResourceType | None:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

        action = f"discover the kinds of {api_version}"
        dynamic = self._transport.dynamic(action)
        with self._transport.answered(action):
            try:
                found = dynamic.resources.get(api_version=api_version, kind=kind)
            except (ResourceNotFoundError, ResourceNotUniqueError):
                return None
        return ResourceType(api_version, kind, found.name, bool(found.namespaced))


def types_defined_by(documents: Iterable[dict]) -> dict[tuple[str, str], ResourceType]:
    """(apiVersion, kind) -> ResourceType for every served version of the CRDs among `documents`."""
    defined: dict[tuple[str, str], ResourceType] = {}
    for document in documents:
        api_version = str(document.get("apiVersion", ""))
        if document.get("kind") != CRD_KIND or not api_version.startswith("apiextensions.k8s.io/"):
            continue
        spec = mapping_or_empty(document.get("spec"))
        names = mapping_or_empty(spec.get("names"))
        group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
        if not (group and kind and plural):
            continue
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and version.get("name") and version.get("served", True):
                api_version = f"{group}/{version['name']}"
                defined[(api_version, kind)] = ResourceType(api_version, kind, plural, spec.get("scope") != "Cluster")
    return defined
