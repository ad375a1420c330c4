"""Which pods a drain evicts: everything but DaemonSet pods (their controller recreates them on the
same node at once) and mirror pods (static pods the kubelet owns; the API cannot evict them)."""

from __future__ import annotations

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def pod_ref(pod: dict) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


def kept_on_drain(pod: dict) -> str | None:
    """Why a drain leaves this pod alone, or None when it must be evicted."""
    metadata = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (metadata.get("annotations") or {}):
        return "mirror pod"
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("kind") == "DaemonSet" and owner.get("controller"):
            return "DaemonSet pod"
    return None

