"""The kinds status and diagnostics reports list (in every namespace, through `Kube.list_all`),
including kinds whose CRD may not be installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cluster.flux import flux_kind


@dataclass(frozen=True)
class Kind:
    plural: str
    group: str  # "" for the core API
    version: str

    @property
    def label(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _flux(kind: str) -> Kind:
    served = flux_kind(kind)
    return Kind(served.plural, served.group, served.version)


CERTIFICATES = Kind("certificates", "cert-manager.io", "v1")
GIT_REPOSITORIES = _flux("GitRepository")
OCI_REPOSITORIES = _flux("OCIRepository")
KUSTOMIZATIONS = _flux("Kustomization")
HELM_RELEASES = _flux("HelmRelease")


def list_kind(kube: Any, kind: Kind) -> list[dict] | None:
    """Every object of `kind` (`kube` is a `cluster.Kube`), or None when the API does not serve it."""
    return kube.list_all(kind.group, kind.version, kind.plural)
