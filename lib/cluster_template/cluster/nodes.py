"""Node facts read from the API: readiness, schedulability, versions, addresses."""

from __future__ import annotations

from dataclasses import dataclass, field

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


@dataclass(frozen=True)
class NodeInfo:
    """One Node object, reduced to what bootstrap and upgrades look at.

    `ready` is the Ready condition being "True"; `ready_reason` and `ready_message` come from that
    condition ("KubeletNotReady" and "container runtime network not ready..." before the CNI, or
    "NodeStatusUnknown" while the kubelet is down). `unschedulable` means cordoned."""

    name: str
    ready: bool
    ready_reason: str
    unschedulable: bool
    kubelet_version: str
    internal_ip: str | None
    labels: dict[str, str] = field(default_factory=dict)
    ready_message: str = ""

    @property
    def control_plane(self) -> bool:
        return CONTROL_PLANE_LABEL in self.labels

    def describe(self) -> str:
        """`k8s-1 (NotReady: KubeletNotReady)`, or just the name when Ready."""
        if self.ready:
            return self.name
        return f"{self.name} (NotReady: {self.ready_reason})" if self.ready_reason else f"{self.name} (NotReady)"

    @classmethod
    def from_api(cls, node: dict) -> NodeInfo:
        metadata = node.get("metadata") or {}
        status = node.get("status") or {}
        condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        addresses = status.get("addresses") or []
        internal_ip = next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), None)
        return cls(
            name=str(metadata.get("name", "")),
            ready=condition is not None and condition.get("status") == "True",
            ready_reason=str((condition or {}).get("reason") or ("" if condition else "NoReadyCondition")),
            ready_message=str((condition or {}).get("message") or ""),
            unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
            kubelet_version=str((status.get("nodeInfo") or {}).get("kubeletVersion") or ""),
            internal_ip=internal_ip,
            labels=dict(metadata.get("labels") or {}),
        )
