"""Kubernetes access for `inv bootstrap.apps` and the day-2 tasks (upgrades, status).

`Kube` (kube.py) is the entry point; the official `kubernetes` client is imported only when a
`Kube` is created, so importing this package stays cheap.

Modules: kube (the API used by tasks), transport (kubeconfig loading, requests, error mapping),
resources (discovery), manifests (document identity, "unchanged" detection), nodes, flux, pods,
waiting (the poll loop), errors.
"""

from .errors import (
    DrainTimeout,
    KubeAccessError,
    KubeConfigError,
    KubeError,
    KubeManifestError,
    KubeTimeout,
    KubeUnreachable,
)
from .kube import Kube
from .nodes import NodeInfo

__all__ = [
    "DrainTimeout", "Kube", "KubeAccessError", "KubeConfigError", "KubeError", "KubeManifestError",
    "KubeTimeout", "KubeUnreachable", "NodeInfo",
]
