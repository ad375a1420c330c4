"""`inv template.debug`: the seed's debug resource list, read through the Kubernetes API into one report.

The seed ran `kubectl get --all-namespaces` for certificates, certificaterequests, gitrepositories,
helmrepositories, helmreleases, httproutes, kustomizations, nodes and pods; OCIRepositories are
added because this template pulls its charts from OCI registries. Each kind becomes one table; a
kind the API does not serve (its CRD is missing) is reported as such, not as a failure of the whole
report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..cluster.flux import readiness
from ..cluster.nodes import NodeInfo
from ..errors import ClusterTemplateError
from .kube_lists import (CERTIFICATES, GIT_REPOSITORIES, HELM_RELEASES, KUSTOMIZATIONS, OCI_REPOSITORIES, Kind,
                         list_kind)
from .report import Table

DEBUG_KINDS: tuple[Kind, ...] = (
    CERTIFICATES,
    Kind("certificaterequests", "cert-manager.io", "v1"),
    GIT_REPOSITORIES,
    Kind("helmrepositories", "source.toolkit.fluxcd.io", "v1"),
    OCI_REPOSITORIES,
    HELM_RELEASES,
    Kind("httproutes", "gateway.networking.k8s.io", "v1"),
    KUSTOMIZATIONS,
    Kind("nodes", "", "v1"),
    Kind("pods", "", "v1"),
)


def gather_debug(kube: Any, *, now: datetime | None = None) -> list[Table]:
    """One table per kind of DEBUG_KINDS, in that order (`kube` is a `cluster.Kube`)."""
    moment = now or datetime.now(timezone.utc)
    tables = []
    for kind in DEBUG_KINDS:
        builder = _BUILDERS.get(kind.plural, _conditions_table)
        try:
            objects = list_kind(kube, kind)
        except ClusterTemplateError as error:
            table = Table(kind.label, ())
            table.error = str(error).strip().splitlines()[0]
            tables.append(table)
            continue
        if objects is None:
            table = Table(kind.label, ())
            table.note = "not served by this cluster (CRD not installed)"
            tables.append(table)
            continue
        tables.append(builder(kind, sorted(objects, key=_key), moment))
    return tables


def _key(obj: dict) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _age(obj: dict, now: datetime) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return ""
    try:
        seconds = int((now - datetime.fromisoformat(str(created).replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _conditions_table(kind: Kind, objects: list[dict], now: datetime) -> Table:
    """Kinds with a Ready condition: Flux objects, cert-manager Certificates and CertificateRequests."""
    table = Table(kind.label, ("NAMESPACE", "NAME", "READY", "AGE", "MESSAGE"))
    for obj in objects:
        metadata = obj.get("metadata") or {}
        ready, message = readiness(obj)
        table.add(metadata.get("namespace", ""), metadata.get("name", ""), "True" if ready else "False",
                  _age(obj, now), message, ok=ready, reason=message)
    return table


def _httproutes_table(kind: Kind, objects: list[dict], now: datetime) -> Table:
    """An HTTPRoute is healthy when every parent (Gateway) accepted it and its backends resolved."""
    table = Table(kind.label, ("NAMESPACE", "NAME", "HOSTNAMES", "ACCEPTED", "AGE"))
    for obj in objects:
        metadata = obj.get("metadata") or {}
        hostnames = ",".join((obj.get("spec") or {}).get("hostnames") or []) or "*"
        problems = []
        parents = (obj.get("status") or {}).get("parents") or []
        if not parents:
            problems.append("no Gateway has accepted it yet")
        for parent in parents:
            gateway = (parent.get("parentRef") or {}).get("name", "?")
            for condition in parent.get("conditions") or []:
                if condition.get("type") in ("Accepted", "ResolvedRefs") and condition.get("status") != "True":
                    problems.append(f"{gateway}: {condition.get('type')} {condition.get('reason', '')}: "
                                    f"{condition.get('message', '')}".strip())
        table.add(metadata.get("namespace", ""), metadata.get("name", ""), hostnames,
                  "True" if not problems else "False", _age(obj, now), ok=not problems, reason="; ".join(problems))
    return table


def _nodes_table(kind: Kind, objects: list[dict], now: datetime) -> Table:
    table = Table(kind.label, ("NAME", "STATUS", "ROLES", "VERSION", "INTERNAL-IP", "AGE"))
    for obj in objects:
        info = NodeInfo.from_api(obj)
        status = ("Ready" if info.ready else "NotReady") + (",SchedulingDisabled" if info.unschedulable else "")
        roles = ",".join(sorted(label.rsplit("/", 1)[1] for label in info.labels
                                if label.startswith("node-role.kubernetes.io/"))) or "<none>"
        reason = "" if info.ready else f"{info.ready_reason}: {info.ready_message}".strip(": ")
        table.add(info.name, status, roles, info.kubelet_version, info.internal_ip or "", _age(obj, now),
                  ok=info.ready, reason=reason)
    return table


def _pods_table(kind: Kind, objects: list[dict], now: datetime) -> Table:
    """A pod is healthy when it Succeeded, or runs and is Ready (its Ready condition, or else every
    container reporting ready)."""
    table = Table(kind.label, ("NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"))
    for obj in objects:
        metadata = obj.get("metadata") or {}
        status = obj.get("status") or {}
        containers = status.get("containerStatuses") or []
        total = len(containers) or len((obj.get("spec") or {}).get("containers") or [])
        ready_count = sum(1 for container in containers if container.get("ready"))
        restarts = sum(int(container.get("restartCount") or 0) for container in containers)
        phase = str(status.get("phase") or "Unknown")
        waiting = [reason for container in containers
                   if (reason := ((container.get("state") or {}).get("waiting") or {}).get("reason"))]
        condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if condition is not None:
            ready = condition.get("status") == "True"
        else:
            ready = ready_count == len(containers)
        healthy = phase == "Succeeded" or (phase == "Running" and ready)
        reason = ""
        if not healthy:
            reason = waiting[0] if waiting else str((condition or {}).get("message") or status.get("message")
                                                     or f"{phase}, not ready")
        shown_ready = f"{ready_count}/{total}" if containers else f"-/{total}"
        table.add(metadata.get("namespace", ""), metadata.get("name", ""), shown_ready,
                  waiting[0] if waiting else phase, restarts, (obj.get("spec") or {}).get("nodeName", ""),
                  _age(obj, now), ok=healthy, reason=reason)
    return table


_BUILDERS: dict[str, Callable[[Kind, list[dict], datetime], Table]] = {
    "httproutes": _httproutes_table,
    "nodes": _nodes_table,
    "pods": _pods_table,
}
