"""`inv status`: one summary of the cluster, marking everything that is not Ready and why.

It gathers what the seed's runbooks (flux-status, talos-status, deploy-check) had an operator type
by hand: the nodes (Kubernetes readiness and the Talos version each reports), etcd (members and
`etcd status` errors through a controller), Flux (Git and OCI sources, Kustomizations,
HelmReleases) and the cert-manager Certificates. A section that cannot be read is itself a
problem, and every other section is still gathered.

Flux objects are read through the Kubernetes API (their Ready condition, as `flux get` shows it),
never by parsing `flux get` tables, whose multi-line messages do not split into rows.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..cluster.flux import flux_revision, readiness
from ..errors import ClusterTemplateError
from ..tools.talosctl import Talosctl
from .etcd_view import etcd_view
from .kube_lists import (CERTIFICATES, GIT_REPOSITORIES, HELM_RELEASES, KUSTOMIZATIONS, OCI_REPOSITORIES, Kind,
                         list_kind)
from .nodes import Inventory, normalise_version
from .report import Table

# (kind, title, a kind the API does not serve is a problem): Flux must be installed, OCI sources
# are optional.
FLUX_TABLES = ((GIT_REPOSITORIES, "Flux Git sources", True), (OCI_REPOSITORIES, "Flux OCI sources", False),
               (KUSTOMIZATIONS, "Flux Kustomizations", True), (HELM_RELEASES, "Flux HelmReleases", True))


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


def gather_status(inventory: Inventory, talos: Talosctl, kube: Any) -> ClusterStatus:
    """`kube` is a `cluster.Kube`; every section is read even when others fail."""
    status = ClusterStatus([nodes_table(inventory, talos, kube), etcd_table(inventory, talos)])
    for kind, title, required in FLUX_TABLES:
        flux = ready_table(kube, kind, title, missing_is_problem=required, revision=True)
        if flux is not None:
            status.tables.append(flux)
    certificates = ready_table(kube, CERTIFICATES, "Certificates", missing_is_problem=True)
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


def ready_table(kube: Any, kind: Kind, title: str, *, missing_is_problem: bool,
                revision: bool = False) -> Table | None:
    """Objects with a Ready condition (Flux objects, Certificates), with the revision Flux last
    applied when `revision`; None when the kind is not served and that is no problem."""
    table = Table(title, ("NAMESPACE", "NAME", "READY", *(("REVISION",) if revision else ()), "MESSAGE"))
    try:
        objects = list_kind(kube, kind)
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
        table.add(metadata.get("namespace", ""), metadata.get("name", ""), "True" if ready else "False",
                  *((flux_revision(obj),) if revision else ()), message, ok=ready, reason=message)
    return table


def _object_key(obj: dict) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " ".join(line.strip() for line in lines[:3]) if lines else text
