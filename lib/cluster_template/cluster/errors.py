"""Errors of the Kubernetes access layer. Every failure talking to the API ends as one of these, so a
task prints one clear line instead of a client traceback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import ClusterTemplateError


class KubeAccessError(ClusterTemplateError):
    """Base class: something went wrong reading or changing the cluster through its API."""


class KubeConfigError(KubeAccessError):
    """The kubeconfig file is missing or cannot be used to build a client."""

    def __init__(self, path: Path, detail: str):
        self.path = Path(path)
        self.detail = detail
        super().__init__(f"cannot use the kubeconfig {path}: {detail}")


class KubeUnreachable(KubeAccessError):
    """No HTTP answer from the API server (refused, timed out, closed, TLS failure)."""

    def __init__(self, server: str, detail: str):
        self.server = server
        self.detail = detail
        super().__init__(
            f"cannot reach the Kubernetes API server at {server}: {detail}. "
            "Check that the cluster is up and that the kubeconfig points at it.")


class KubeError(KubeAccessError):
    """The API server answered with an error status.

    `status` is the HTTP code, `reason` the Status reason (NotFound, Conflict, Forbidden, ...),
    `message` the server's explanation (already redacted) and `action` what was being done."""

    def __init__(self, action: str, status: int, reason: str, message: str):
        self.action = action
        self.status = status
        self.reason = reason
        self.message = message
        text = f"{action}: the Kubernetes API answered {status} {reason}"
        if message:
            text += f": {message}"
        hint = _STATUS_HINTS.get(status)
        if hint:
            text += f" ({hint})"
        super().__init__(text)


_STATUS_HINTS = {
    401: "the kubeconfig's credentials were rejected; fetch a fresh kubeconfig",
    403: "the kubeconfig's user is not allowed to do this",
}


class KubeManifestError(KubeAccessError):
    """A document cannot be applied: it lacks apiVersion/kind/metadata.name, or the cluster does
    not serve its kind."""


class KubeTimeout(KubeAccessError):
    """A wait ran out of time. `waiting_for` names what was still not there or not ready."""

    def __init__(self, what: str, timeout: float, waiting_for: Sequence[str]):
        self.what = what
        self.timeout = timeout
        self.waiting_for = list(waiting_for)
        text = f"timed out after {timeout:g}s waiting for {what}"
        if self.waiting_for:
            text += ": still waiting for " + "; ".join(self.waiting_for)
        super().__init__(text)


class DrainTimeout(KubeTimeout):
    """Pods were still on the node when the drain's timeout ran out. `pods` holds their
    `namespace/name`; `waiting_for` the same with the reason each one stayed."""

    def __init__(self, node: str, timeout: float, pods: Sequence[str], reasons: Sequence[str]):
        self.node = node
        self.pods = list(pods)
        super().__init__(f"node {node} to drain", timeout, reasons)
