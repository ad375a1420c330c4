"""`Kube`: what bootstrap and day-2 tasks do with the Kubernetes API, through one kubeconfig file.

    kube = Kube(Path("kubeconfig"), ex)
    kube.wait_for_nodes(3, registered_only=True, timeout=600, poll=5, progress=print)
    kube.ensure_namespaces(["flux-system", "network"])
    kube.apply(documents)                       # [("Secret/flux-system/sops-age", "created"), ...]
    kube.flux_ready("Kustomization", "flux-system", "cluster-apps")
    kube.drain("k8s-1", timeout=300, progress=print); ...; kube.uncordon("k8s-1")

Reads always happen, also in dry mode, so a plan reflects the cluster. Every change is announced
through the executor (`ex.note("create: Namespace/network")`, or "would create: ..." in dry mode)
before it is made, and skipped in dry mode. Secret values are registered with the executor's
redactor and never appear in a message.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from urllib.parse import quote

from ..run import Executor
from .errors import DrainTimeout, KubeError, KubeManifestError
from .flux import flux_kind, readiness
from .manifests import APPLY_PRIORITY, DEFAULT_NAMESPACE, Manifest, manifest, needs_apply, secret_values
from .nodes import NodeInfo
from .pods import kept_on_drain, pod_ref
from .resources import Discovery, ResourceType, types_defined_by
from .transport import KubeTransport
from .waiting import Check, Progress, poll_until

DEFAULT_FIELD_MANAGER = "cluster-template"
MERGE_PATCH = "application/strategic-merge-patch+json"
# How often apply looks again for a kind whose CRD it has just created (the API serves it once the
# CRD is Established, usually within a second).
CRD_DISCOVERY_POLL = 0.5


def _quiet(_message: str) -> None:
    return None


def _node_path(name: str) -> str:
    return f"/api/v1/nodes/{quote(name, safe='')}"


class Kube:
    """Client for one cluster: the API server named by `kubeconfig` (never the user's default
    kubeconfig). `timeout` bounds every single request; waits have their own deadlines.

    Raises KubeConfigError at once when the kubeconfig is missing or unusable; every other method
    raises KubeUnreachable, KubeError, KubeManifestError or KubeTimeout (all KubeAccessError)."""

    def __init__(self, kubeconfig: Path, ex: Executor, *, timeout: float = 30):
        self.kubeconfig = Path(kubeconfig)
        self.ex = ex
        self.timeout = timeout
        self._api = KubeTransport(self.kubeconfig, timeout=timeout, redact=ex.redactor.redact)
        self._discovery = Discovery(self._api)

    @property
    def server(self) -> str:
        """The API server URL from the kubeconfig."""
        return self._api.server

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------------------

    def _get(self, path: str, action: str) -> dict:
        return self._api.request("GET", path, action=action)

    def _get_or_none(self, path: str, action: str) -> dict | None:
        try:
            return self._get(path, action)
        except KubeError as error:
            if error.status == 404:
                return None
            raise

    def _announce(self, verb: str, subject: str) -> bool:
        """Report a change; True when it is to be made (not a dry run)."""
        self.ex.note(f"{'would ' if self.ex.dry else ''}{verb}: {subject}")
        return not self.ex.dry

    # -- cluster facts -------------------------------------------------------------------------

    def version(self) -> str:
        """The API server's version, e.g. "v1.35.0"."""
        answer = self._get("/version", "read the server version")
        return str(answer.get("gitVersion", "")) if isinstance(answer, dict) else ""

    def nodes(self) -> list[NodeInfo]:
        """Every registered node, sorted by name."""
        listing = self._get("/api/v1/nodes", "list nodes")
        nodes = [NodeInfo.from_api(item) for item in (listing or {}).get("items") or []]
        return sorted(nodes, key=lambda node: node.name)

    def wait_for_nodes(self, expected: int | Collection[str], *, registered_only: bool = False,
                       timeout: float = 600.0, poll: float = 5.0,
                       progress: Progress | None = None) -> list[NodeInfo]:
        """Wait until `expected` nodes (a count, or these node names) are registered, or, with
        `registered_only=False`, Ready. Before the CNI runs, nodes register but stay NotReady, so
        bootstrap waits with `registered_only=True`. Returns every node at that moment.

        `progress` hears a one-line status whenever it changes. KubeTimeout names the nodes still
        missing or NotReady (with the kubelet's reason)."""
        names: set[str] | None
        if isinstance(expected, int):
            names, total = None, expected
        else:
            names = {expected} if isinstance(expected, str) else set(expected)
            total = len(names)
        state = "registered" if registered_only else "Ready"

        def check() -> Check[list[NodeInfo]]:
            nodes = self.nodes()
            if names is None:
                good = sum(1 for node in nodes if registered_only or node.ready)
                done = good >= total
                waiting = [] if done or registered_only else [node.describe() for node in nodes if not node.ready]
                missing = total - len(nodes)
                if not done and missing > 0:
                    waiting.append(f"{missing} more node{'s' if missing != 1 else ''} to register")
            else:
                by_name = {node.name: node for node in nodes}
                waiting = [f"{name} (not registered)" for name in sorted(names - by_name.keys())]
                if not registered_only:
                    waiting += [by_name[name].describe() for name in sorted(names & by_name.keys())
                                if not by_name[name].ready]
                good, done = total - len(waiting), not waiting
            status = f"{min(good, total)}/{total} nodes {state}"
            if waiting:
                status += "; waiting for " + ", ".join(waiting)
            return Check(done, status, waiting, nodes)

        what = f"{total} node{'s' if total != 1 else ''} to be {state}" if names is None else \
            f"nodes {', '.join(sorted(names))} to be {state}"
        return poll_until(check, what=what, timeout=timeout, poll=poll, progress=progress,
                          heartbeat=self.ex.heartbeat).value or []

    # -- namespaces ----------------------------------------------------------------------------

    def namespace_exists(self, name: str) -> bool:
        return self._get_or_none(f"/api/v1/namespaces/{quote(name, safe='')}", f"read namespace {name}") is not None

    def ensure_namespaces(self, names: Iterable[str]) -> list[tuple[str, str]]:
        """Create the namespaces that do not exist. Returns (name, "created" | "unchanged") in the
        given order ("created" in dry mode means it would be)."""
        results: list[tuple[str, str]] = []
        for name in dict.fromkeys(names):
            if self.namespace_exists(name):
                results.append((name, "unchanged"))
                continue
            if self._announce("create", f"Namespace/{name}"):
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                try:
                    self._api.request("POST", "/api/v1/namespaces", body=body, action=f"create namespace {name}",
                                      query={"fieldManager": DEFAULT_FIELD_MANAGER})
                except KubeError as error:
                    if error.status != 409:  # created meanwhile by someone else: it exists, as wanted
                        raise
                    results.append((name, "unchanged"))
                    continue
            results.append((name, "created"))
        return results

    # -- server-side apply ---------------------------------------------------------------------

    def apply(self, documents: list[dict], *, field_manager: str = DEFAULT_FIELD_MANAGER,
              force_conflicts: bool = False) -> list[tuple[str, str]]:
        """Server-side apply each document; returns ("Kind/namespace/name" or "Kind/name",
        "created" | "configured" | "unchanged") in the order of `documents`.

        Whether an object is unchanged is decided before applying, from the live object: when it
        already holds every field the document sets (and lost none this manager set before),
        nothing is sent, so a re-run applies nothing. Namespaces and CRDs are applied before the
        rest; a custom resource whose CRD is in the same batch waits until the API serves it.
        Namespaced documents without a namespace go to "default"."""
        manifests = [manifest(document, index) for index, document in enumerate(documents)]
        for item in manifests:
            self.ex.redactor.add(*secret_values(item.document))
        planned_types = types_defined_by(item.document for item in manifests)
        results: list[tuple[str, str]] = [("", "")] * len(manifests)
        order = sorted(range(len(manifests)), key=lambda i: APPLY_PRIORITY.get(manifests[i].kind, len(APPLY_PRIORITY)))
        for index in order:
            results[index] = self._apply_one(manifests[index], planned_types, field_manager, force_conflicts)
        return results

    def _apply_one(self, item: Manifest, planned_types: dict[tuple[str, str], ResourceType],
                   field_manager: str, force_conflicts: bool) -> tuple[str, str]:
        resource, served = self._resource_type(item, planned_types)
        namespace = (item.namespace or DEFAULT_NAMESPACE) if resource.namespaced else None
        subject = item.subject(namespace)
        path = resource.object_path(item.name, namespace)
        # The body names the namespace the URL does (and none for a cluster-scoped kind, which the
        # live object would never show), so it compares and applies consistently.
        body = copy.deepcopy(item.document)
        if namespace:
            body["metadata"]["namespace"] = namespace
        else:
            body["metadata"].pop("namespace", None)
        live = self._get_or_none(path, f"read {subject}") if served else None
        if live is None:
            action = "created"
        elif needs_apply(body, live, field_manager):
            action = "configured"
        else:
            return subject, "unchanged"
        if self._announce("create" if action == "created" else "configure", subject):
            self._server_side_apply(item, body, field_manager, force_conflicts, f"apply {subject}")
        return subject, action

    def _server_side_apply(self, item: Manifest, body: dict, field_manager: str, force: bool, action: str) -> None:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        dynamic = self._api.dynamic(action)
        with self._api.answered(action):
            try:
                resource = dynamic.resources.get(api_version=item.api_version, kind=item.kind)
            except ResourceNotFoundError:  # its CRD was deleted since discovery found it
                raise KubeManifestError(f"{item.kind}/{item.name}: the cluster no longer serves kind {item.kind} "
                                        f"in {item.api_version}") from None
            dynamic.server_side_apply(resource, body=body, field_manager=field_manager,
                                      force_conflicts=True if force else None, _request_timeout=self.timeout)

    def _resource_type(self, item: Manifest,
                       planned_types: dict[tuple[str, str], ResourceType]) -> tuple[ResourceType, bool]:
        """The served type of a document, and whether the API serves it already (False only in a
        dry run for a kind whose CRD is in the batch but not yet installed)."""
        served = self._discovery.resource(item.api_version, item.kind)
        if served is not None:
            return served, True
        planned = planned_types.get((item.api_version, item.kind))
        if planned is None:
            raise KubeManifestError(
                f"{item.kind}/{item.name}: the cluster does not serve kind {item.kind} in {item.api_version}; "
                "is its CustomResourceDefinition installed?")
        if self.ex.dry:
            return planned, False

        def check() -> Check[ResourceType]:
            found = self._discovery.resource(item.api_version, item.kind)
            return Check(found is not None, "", [f"{item.kind} ({item.api_version}) to be served"], found)

        found = poll_until(check, what=f"the CustomResourceDefinition of {item.kind} to be established",
                           timeout=self.timeout, poll=CRD_DISCOVERY_POLL).value
        assert found is not None
        return found, True

    # -- custom objects and Flux ---------------------------------------------------------------

    def get_custom(self, group: str, version: str, plural: str, namespace: str | None, name: str) -> dict | None:
        """A custom object, or None when it (or its CRD) does not exist. `namespace` None or ""
        for a cluster-scoped kind."""
        resource = ResourceType(f"{group}/{version}", "", plural, bool(namespace))
        where = f"{namespace}/{name}" if namespace else name
        return self._get_or_none(resource.object_path(name, namespace), f"read {plural}.{group} {where}")

    def list_all(self, group: str, version: str, plural: str) -> list[dict] | None:
        """Every object of a kind in every namespace (`group` "" for the core API), or None when
        the API does not serve the kind (its CRD is not installed: a 404, not an error)."""
        resource = ResourceType(f"{group}/{version}" if group else version, "", plural, False)
        label = f"{plural}.{group}" if group else plural
        answer = self._get_or_none(resource.collection_path(), f"list {label}")
        return None if answer is None else list(answer.get("items") or [])

    def flux_ready(self, kind: str, namespace: str, name: str) -> tuple[bool | None, str]:
        """(ready, message) of a GitRepository, OCIRepository, Kustomization or HelmRelease from
        its Ready condition; ready is None when the object does not exist (yet)."""
        spec = flux_kind(kind)
        obj = self.get_custom(spec.group, spec.version, spec.plural, namespace, name)
        if obj is None:
            return None, f"{kind} {namespace}/{name} does not exist yet"
        return readiness(obj)

    def wait_flux_ready(self, objects: Iterable[tuple[str, str, str]], *, timeout: float = 600.0,
                        poll: float = 5.0, progress: Progress | None = None) -> list[tuple[str, str]]:
        """Wait until every (kind, namespace, name) is Ready; returns ("Kind/namespace/name",
        message) for each. KubeTimeout names the objects not Ready with their messages."""
        targets = list(objects)
        for kind, _namespace, _name in targets:
            flux_kind(kind)

        def check() -> Check[list[tuple[str, str]]]:
            results, waiting = [], []
            for kind, namespace, name in targets:
                ready, message = self.flux_ready(kind, namespace, name)
                subject = f"{kind}/{namespace}/{name}"
                results.append((subject, message))
                if not ready:
                    waiting.append(f"{subject} ({message})")
            status = f"{len(targets) - len(waiting)}/{len(targets)} Flux objects Ready"
            if waiting:
                status += "; waiting for " + ", ".join(waiting)
            return Check(not waiting, status, waiting, results)

        what = f"{len(targets)} Flux object{'s' if len(targets) != 1 else ''} to be Ready"
        return poll_until(check, what=what, timeout=timeout, poll=poll, progress=progress,
                          heartbeat=self.ex.heartbeat).value or []

    # -- cordon and drain ----------------------------------------------------------------------

    def cordon(self, node: str) -> bool:
        """Mark the node unschedulable; False when it already was."""
        return self._set_unschedulable(node, True)

    def uncordon(self, node: str) -> bool:
        """Mark the node schedulable again; False when it already was."""
        return self._set_unschedulable(node, False)

    def delete_node(self, node: str) -> bool:
        """Delete the Node object (of a machine that was reset); False when there is none."""
        path = _node_path(node)
        if self._get_or_none(path, f"read node {node}") is None:
            return False
        if self._announce("delete", f"node/{node}"):
            try:
                self._api.request("DELETE", path, action=f"delete node {node}")
            except KubeError as error:
                if error.status != 404:
                    raise
        return True

    def _set_unschedulable(self, node: str, unschedulable: bool) -> bool:
        path = _node_path(node)
        live = self._get(path, f"read node {node}")
        if bool((live.get("spec") or {}).get("unschedulable")) == unschedulable:
            return False
        verb = "cordon" if unschedulable else "uncordon"
        if self._announce(verb, f"node/{node}"):
            # null removes the field, which is how an uncordoned node looks.
            body = {"spec": {"unschedulable": True if unschedulable else None}}
            self._api.request("PATCH", path, body=body, content_type=MERGE_PATCH, action=f"{verb} node {node}")
        return True

    def drain(self, node: str, *, timeout: float = 300.0, poll: float = 5.0,
              progress: Progress | None = None) -> list[str]:
        """Cordon the node and evict its pods with the Eviction API (so PodDisruptionBudgets are
        honoured), leaving DaemonSet and mirror pods alone. A refused eviction (429: a budget
        would be violated) is retried every `poll` seconds; the drain ends when the evicted pods
        are gone. Returns the evicted pods as "namespace/name"; DrainTimeout names those left.

        In dry mode the node is not cordoned and the evictions are only announced."""
        report = progress or _quiet
        self.cordon(node)
        to_evict = {pod_ref(pod): (pod.get("metadata") or {}).get("uid") for pod in self._pods_on(node)
                     if kept_on_drain(pod) is None}
        if not to_evict:
            report(f"node {node}: no pods to evict")
            return []
        if self.ex.dry:
            for ref in to_evict:
                self._announce("evict", f"pod/{ref}")
            return sorted(to_evict)
        deadline = time.monotonic() + timeout
        announced: set[str] = set()
        accepted: set[str] = set()
        refusals: dict[str, str] = {}
        last_status = ""
        while True:
            for ref in sorted(set(to_evict) - accepted):
                if ref not in announced:
                    self._announce("evict", f"pod/{ref}")
                    announced.add(ref)
                refusal = self._evict(ref)
                if refusal is None:
                    accepted.add(ref)
                    refusals.pop(ref, None)
                elif refusals.get(ref) != refusal:
                    refusals[ref] = refusal
                    report(f"eviction of pod {ref} refused, retrying: {refusal}")
            on_node = {pod_ref(pod): (pod.get("metadata") or {}).get("uid") for pod in self._pods_on(node)}
            left = sorted(ref for ref, uid in to_evict.items() if ref in on_node and on_node[ref] == uid)
            if not left:
                report(f"node {node}: drained ({len(to_evict)} pod{'s' if len(to_evict) != 1 else ''} evicted)")
                return sorted(to_evict)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reasons = [f"{ref} ({'eviction refused: ' + refusals[ref] if ref in refusals else 'still terminating'})"
                           for ref in left]
                raise DrainTimeout(node, timeout, left, reasons)
            plural = "s" if len(left) != 1 else ""
            status = f"node {node}: waiting for {len(left)} pod{plural} to leave: {', '.join(left)}"
            if status != last_status:
                report(status)
                last_status = status
            time.sleep(min(poll, remaining))

    def _pods_on(self, node: str) -> list[dict]:
        listing = self._api.request("GET", "/api/v1/pods", query={"fieldSelector": f"spec.nodeName={node}"},
                                    action=f"list the pods on node {node}")
        return list((listing or {}).get("items") or [])

    def _evict(self, ref: str) -> str | None:
        """Ask the API to evict one pod: None when accepted (or the pod is already gone), else the
        reason it was refused (429, a PodDisruptionBudget)."""
        namespace, _, name = ref.partition("/")
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        try:
            path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/eviction"
            self._api.request("POST", path, body=body,
                              action=f"evict pod {ref}")
        except KubeError as error:
            if error.status == 404:
                return None
            if error.status == 429:
                return error.message or "TooManyRequests"
            raise
        return None
