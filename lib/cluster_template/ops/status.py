"""`inv status`: one summary of the cluster, marking everything that is not Ready and why.

It gathers what the seed's runbooks (flux-status, talos-status, deploy-check) had an operator type
by hand: the nodes (Kubernetes readiness and the Talos version each reports), etcd (members and
`etcd status` errors through a controller), Flux (Git and OCI sources, Kustomizations,
HelmReleases) and the cert-manager Certificates. A section that cannot be read is itself a
problem, and every other section is still gathered.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..cluster.flux import readiness
from ..errors import ClusterTemplateError
from ..tools.flux import Flux
from ..tools.talosctl import Talosctl
from .etcd_view import etcd_view
from .kube_lists import CERTIFICATES, OCI_REPOSITORIES, KubeLister
from .nodes import Inventory, normalise_version
from .report import Table

FLUX_TABLES = (("sources git", "Flux Git sources"), ("kustomizations", "Flux Kustomizations"),
               ("helmreleases", "Flux HelmReleases"))


@dataclass
class ClusterStatus:
    tables: list[Table] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [problem for table in self.tables for problem in table.problems()]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "sections": [table.to_dict() for table in self.tables]}


def gather_status(inventory: Inventory, talos: Talosctl, flux: Flux, kube: Any, lister: KubeLister) -> ClusterStatus:
    """`kube` is a `cluster.Kube` (its `nodes()`); every section is read even when others fail."""
    status = ClusterStatus([nodes_table(inventory, talos, kube), etcd_table(inventory, talos)])
    for kind, title in FLUX_TABLES:
        status.tables.append(flux_table(flux, kind, title))
    oci = custom_table(lister, OCI_REPOSITORIES, "Flux OCI sources", missing_is_problem=False)
    if oci is not None:
        status.tables.insert(3, oci)
    certificates = custom_table(lister, CERTIFICATES, "Certificates", missing_is_problem=True)
    if certificates is not None:
        status.tables.append(certificates)
    return status


def nodes_table(inventory: Inventory, talos: Talosctl, kube: Any) -> Table:
    table = Table("Nodes", ("NAME", "ADDRESS", "ROLE", "KUBERNETES", "TALOS"))
    kube_error = None
    try:
        known = {info.name: info for info in kube.nodes()}
    except ClusterTemplateError as error:
        known, kube_error = {}, str(error)
    with ThreadPoolExecutor(max_workers=min(8, len(inventory.nodes) or 1)) as pool:
        versions = list(pool.map(lambda node: _talos_version(talos, node.address), inventory.nodes))
    for node, version in zip(inventory.nodes, versions):
        info = known.get(node.name)
        reasons = []
        if kube_error is not None:
            state = "unknown"
            reasons.append(f"Kubernetes API: {kube_error}")
        elif info is None:
            state = "missing"
            reasons.append("not registered in Kubernetes")
        else:
            state = ("Ready" if info.ready else "NotReady") + (",SchedulingDisabled" if info.unschedulable else "")
            if not info.ready:
                reasons.append(f"NotReady: {info.ready_reason or 'no reason'}"
                               + (f" ({info.ready_message})" if info.ready_message else ""))
        talos_cell = version or "no answer"
        if version is None:
            reasons.append("does not answer on the Talos API")
        elif node.target_version and version != node.target_version:
            talos_cell += f" (target {node.target_version})"
        table.add(node.name, node.address, node.role, state, talos_cell, ok=not reasons, reason="; ".join(reasons))
    listed = {node.name for node in inventory.nodes}
    for name, info in sorted(known.items()):
        if name not in listed:
            table.add(name, info.internal_ip or "", "?", "Ready" if info.ready else "NotReady", "",
                      ok=False, reason="registered in Kubernetes but not in nodes.yaml")
    return table


def _talos_version(talos: Talosctl, address: str) -> str | None:
    try:
        return normalise_version(talos.server_version(address))
    except ClusterTemplateError:
        return None


def etcd_table(inventory: Inventory, talos: Talosctl) -> Table:
    table = Table("etcd", ("MEMBER", "ADDRESS", "DB SIZE", "LEADER", "ERRORS"))
    controllers = inventory.controllers
    if not controllers:
        table.error = "nodes.yaml has no controller"
        return table
    try:
        view = etcd_view(talos, controllers)
        rows = {row.get("node", ""): row for row in
                talos.etcd_status(",".join(node.address for node in controllers))}
    except ClusterTemplateError as error:
        table.error = _first_line(str(error))
        return table
    members, disagreeing = view.members, view.disagreeing()
    for node in controllers:
        row = rows.get(node.address, {})
        reasons = []
        if node.name in disagreeing:
            reasons.append("its etcd lists other members (" + ", ".join(sorted(disagreeing[node.name])) + ")")
        if node.name not in members:
            reasons.append("not an etcd member")
        elif members[node.name].get("learner") == "true":
            reasons.append("still a learner")
        if not row:
            reasons.append("did not answer etcd status")
        elif row.get("errors"):
            reasons.append(row["errors"])
        table.add(node.name, node.address, row.get("db size", ""), row.get("leader", ""), row.get("errors", ""),
                  ok=not reasons, reason="; ".join(reasons))
    for name in sorted(set(members) - {node.name for node in controllers}):
        table.add(name, "", "", "", "", ok=False, reason="etcd member not in nodes.yaml")
    return table


def flux_table(flux: Flux, kind: str, title: str) -> Table:
    table = Table(title, ("NAMESPACE", "NAME", "READY", "REVISION", "MESSAGE"))
    try:
        objects = flux.get(kind)
    except ClusterTemplateError as error:
        table.error = _first_line(str(error))
        return table
    for item in objects:
        reason = "" if item.is_ready else (item.message or f"Ready={item.ready}")
        if item.suspended:
            reason = "suspended" + (f"; {reason}" if reason else "")
        table.add(item.namespace, item.name, item.ready + (" (suspended)" if item.suspended else ""),
                  item.revision, item.message, ok=item.is_ready, reason=reason)
    return table


def custom_table(lister: KubeLister, kind: Any, title: str, *, missing_is_problem: bool) -> Table | None:
    """Objects with a Ready condition (Flux sources, Certificates); None when the kind is not served
    and that is no problem."""
    table = Table(title, ("NAMESPACE", "NAME", "READY", "MESSAGE"))
    try:
        objects = lister.list(kind)
    except ClusterTemplateError as error:
        table.error = _first_line(str(error))
        return table
    if objects is None:
        if not missing_is_problem:
            return None
        table.error = f"the API does not serve {kind.label}: is its CRD installed?"
        return table
    for obj in sorted(objects, key=_object_key):
        metadata = obj.get("metadata") or {}
        ready, message = readiness(obj)
        table.add(metadata.get("namespace", ""), metadata.get("name", ""), "True" if ready else "False", message,
                  ok=ready, reason=message)
    return table


def _object_key(obj: dict) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " ".join(line.strip() for line in lines[:3]) if lines else text
