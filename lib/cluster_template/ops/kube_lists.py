"""List calls on the Kubernetes API (every namespace) for status and diagnostics reports.

`cluster.Kube` reads single objects; reports need whole collections, including kinds whose CRD
may not be installed (a 404 then means "not installed", not an error). Requests go through the
same transport as `Kube` (kubeconfig loading, error mapping, redaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..cluster.errors import KubeError
from ..run import Executor


@dataclass(frozen=True)
class Kind:
    plural: str
    group: str  # "" for the core API
    version: str

    @property
    def path(self) -> str:
        base = "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"
        return f"{base}/{self.plural}"

    @property
    def label(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


CERTIFICATES = Kind("certificates", "cert-manager.io", "v1")
GIT_REPOSITORIES = Kind("gitrepositories", "source.toolkit.fluxcd.io", "v1")
OCI_REPOSITORIES = Kind("ocirepositories", "source.toolkit.fluxcd.io", "v1")
KUSTOMIZATIONS = Kind("kustomizations", "kustomize.toolkit.fluxcd.io", "v1")
HELM_RELEASES = Kind("helmreleases", "helm.toolkit.fluxcd.io", "v2")


class KubeLister:
    """List whole collections through one kubeconfig."""

    def __init__(self, kubeconfig: Path, ex: Executor, *, timeout: float = 30):
        from ..cluster.transport import KubeTransport

        self._api = KubeTransport(Path(kubeconfig), timeout=timeout, redact=ex.redactor.redact)

    def list(self, kind: Kind) -> list[dict] | None:
        """Every object of `kind` in every namespace, or None when the API does not serve the kind."""
        try:
            answer = self._api.request("GET", kind.path, action=f"list {kind.label}")
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return list((answer or {}).get("items") or [])

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> KubeLister:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
