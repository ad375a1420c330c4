"""A fake Kubernetes API server for tests: real HTTP on 127.0.0.1, reached by the real `kubernetes` client.

    api = start_kube_api(tools.state_path)       # or the `fake_kube` fixture in fixtures.py
    api.write_kubeconfig(tmp_path / "kubeconfig")
    api.add_pod("k8s-1", "web-0", "default")
    api.refuse_evictions("default/web-0", times=2)  # 429 twice (a PodDisruptionBudget), then evicted
    ... Kube(kubeconfig, ex).drain("k8s-1", timeout=5, poll=0.05) ...
    assert api.objects("Pod") == [] and api.evictions == ["default/web-0"]
    api.stop()

What comes from the simulated cluster state (fakestate), read on every request:
- whether the API answers at all: `fakestate.kube_api_up` (etcd bootstrapped and a control plane
  running); when it does not, the connection is closed without an answer;
- Nodes: a node is registered once it is configured and etcd is bootstrapped, while its stage is
  running, rebooting or resetting. Ready follows `kubernetes_ready` (auto: running + etcd + CNI);
  NotReady before the CNI says "cni plugin not initialized"; a rebooting or powered-off node is
  Unknown. Cordon/uncordon (a merge patch of spec.unschedulable) writes `cordoned` to the state
  under its lock, where the fake talosctl sees it;
- Flux GitRepository/OCIRepository/Kustomization/HelmRelease objects: served while
  `flux.installed`, with the Ready condition and message of the state's `flux` section (what the
  fake `flux` CLI prints);
- /version: `cluster.kubernetes_version`.

Everything else lives in memory: namespaces, secrets, config maps, service accounts, CRDs (which
add served kinds), custom resources and pods. Supported: discovery, GET and LIST (fieldSelector
on pods' spec.nodeName and metadata.name/namespace), POST create, server-side apply PATCHes
(`application/apply-patch+yaml` with field ownership, conflicts and `force`), JSON merge patches,
the pods/eviction subresource and the bearer token of the kubeconfigs the fakes write. Unknown
paths answer 404 with a Status object, as the real server does.

Server-side apply writes managedFields in the real FieldsV1 format: `f:` map keys, `k:{...}` items of
the built-in kinds' associative lists (containers and volumes by name, container ports by
containerPort+protocol, env by name, ...), `v:` items of metadata.finalizers, and atomic lists as
leaves; applied items merge into those lists by key. Deployments get the server's defaults
(replicas, strategy, container imagePullPolicy, port protocol, ...). Known simplifications: custom
resources keep every list atomic (no list-type markers are read from their CRD), merge patches
replace lists (no strategic merge), there are no watches, label selectors or admission, and DELETE
exists for Nodes only; a Secret's `stringData` is folded into `data` on write, as the real registry
does.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from . import fakestate, fakeyaml

TOKEN = "fake-admin-token"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
NOT_ALLOWED = "the server does not allow this method on the requested resource"
PDB_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
CNI_NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                 "message:Network plugin returns error: cni plugin not initialized")
# Metadata the server owns: never part of an applier's fields, never copied from a request.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                   "deletionTimestamp", "selfLink")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """`secrets` or `customresourcedefinitions.apiextensions.k8s.io`, as error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTIN_KINDS = (
    Kind("", "v1", "Namespace", "namespaces", False),
    Kind("", "v1", "Node", "nodes", False),
    Kind("", "v1", "Pod", "pods", True),
    Kind("", "v1", "Secret", "secrets", True),
    Kind("", "v1", "ConfigMap", "configmaps", True),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", True),
    Kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    Kind("apps", "v1", "Deployment", "deployments", True),
)
# Flux kinds whose objects (and Ready conditions) come from the state's `flux` section.
FLUX_KINDS = (
    Kind("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", True),
    Kind("source.toolkit.fluxcd.io", "v1", "OCIRepository", "ocirepositories", True),
    Kind("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", True),
    Kind("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", True),
)
# Namespaces every cluster starts with; flux-system appears while Flux is installed.
INITIAL_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
FLUX_NAMESPACE = "flux-system"
FLUX_READY_REASONS = {True: "ReconciliationSucceeded", False: "ReconciliationFailed"}


class ApiStatus(Exception):
    """An error answer: HTTP status + a Kubernetes Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": message, "reason": reason, "details": details or {}, "code": code}


def not_found(kind: Kind | None = None, name: str = "") -> ApiStatus:
    if kind is None:
        return ApiStatus(404, "NotFound", "the server could not find the requested resource")
    return ApiStatus(404, "NotFound", f'{kind.resource} "{name}" not found',
                     {"name": name, "group": kind.group, "kind": kind.plural})


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


# -- field sets (server-side apply) ------------------------------------------------------------------
#
# Paths are tuples of path elements in the FieldsV1 format the real server writes: `f:<field>` for a
# map key, `k:{"name":"web"}` for an item of an associative list (found by its key fields), `v:<json>`
# for an item of a set. A list with neither is atomic: the list itself is the leaf. `i:<index>` never
# appears for server-side apply, and the server never writes it here either.

# Associative lists of the built-in kinds and their key fields (k8s.io/api `listMapKey`s of PodSpec,
# Container and ObjectMeta). A key field the item leaves out takes its default (a port's protocol).
LIST_KEYS = {"containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
             "env": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",), "volumes": ("name",),
             "imagePullSecrets": ("name",), "ports": ("containerPort", "protocol"), "ownerReferences": ("uid",)}
KEY_DEFAULTS = {"protocol": "TCP"}
SET_LISTS = ("finalizers",)  # metadata.finalizers (listType=set)
# Groups whose kinds have the schema above; custom resources (no list-type markers here) keep atomic lists.
BUILT_IN_GROUPS = ("", "apps")


def field_paths(obj: dict, prefix: tuple[str, ...] = (), *, structured: bool = True) -> set[tuple[str, ...]]:
    """The paths an object sets: maps are descended, associative lists and sets by item (each
    item's own path included, as the `.` entry shows), other lists are atomic. `structured`
    False treats every list as atomic (custom resources)."""
    paths: set[tuple[str, ...]] = set()
    for key, value in obj.items():
        if not prefix and key in ("apiVersion", "kind", "status"):
            continue
        if prefix == ("f:metadata",) and key in ("name", "namespace", *SERVER_METADATA):
            continue
        if value is None:
            continue  # a null in an apply request sets nothing
        path = prefix + (f"f:{key}",)
        keys = list_keys(key, value, prefix) if structured else None
        if isinstance(value, dict) and value:
            paths |= field_paths(value, path, structured=structured)
        elif keys:
            for item in value:
                element = path + (item_key(keys, item),)
                paths.add(element)
                paths |= field_paths(item, element, structured=structured)
        elif structured and isinstance(value, list) and value and key in SET_LISTS and prefix == ("f:metadata",):
            paths |= {path + ("v:" + json.dumps(item, separators=(",", ":")),) for item in value}
        else:
            paths.add(path)
    return paths


def list_keys(field: str, value: object, prefix: tuple[str, ...]) -> tuple[str, ...] | None:
    """The key fields of `value` when it is an associative list, else None."""
    keys = LIST_KEYS.get(field)
    if not keys or not isinstance(value, list) or not value:
        return None
    if field == "ports" and not (prefix and prefix[-1].startswith("k:")):
        return None  # a Service's ports are keyed by `port`: only a container's are modelled
    if not all(isinstance(item, dict) and all(k in item or k in KEY_DEFAULTS for k in keys) for item in value):
        return None
    return keys


def item_key(keys: tuple[str, ...], item: dict) -> str:
    return "k:" + json.dumps({k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(keys)}, separators=(",", ":"))


def to_fields_v1(paths: set[tuple[str, ...]]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        if path[-1].startswith("k:"):
            node["."] = {}  # the item itself is owned, besides its fields
    return tree


def from_fields_v1(fields: dict, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    for key, child in fields.items():
        if key == ".":
            paths.add(prefix)
            continue
        path = prefix + (key,)
        inner = from_fields_v1(child, path) if isinstance(child, dict) else set()
        paths |= inner or {path}
    return paths


def _matches(element: str, item: object) -> bool:
    if element.startswith("v:"):
        return item == json.loads(element[2:])
    wanted = json.loads(element[2:])
    return isinstance(item, dict) and all(item.get(k, KEY_DEFAULTS.get(k)) == v for k, v in wanted.items())


def _step(node: object, element: str) -> tuple[bool, object]:
    if element.startswith("f:"):
        if isinstance(node, dict) and element[2:] in node:
            return True, node[element[2:]]
        return False, None
    if isinstance(node, list):
        for item in node:
            if _matches(element, item):
                return True, item
    return False, None


def lookup(obj: dict, path: tuple[str, ...]) -> tuple[bool, object]:
    node: object = obj
    for element in path:
        found, node = _step(node, element)
        if not found:
            return False, None
    return True, node


def remove(obj: dict, path: tuple[str, ...]) -> None:
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        parent[:] = [item for item in parent if not _matches(last, item)]
    if not parent and len(path) > 1:
        remove(obj, path[:-1])  # a list or map nobody sets anything in any more goes too


def has_list_schema(kind: Kind) -> bool:
    return kind.group in BUILT_IN_GROUPS and kind.kind != "CustomResourceDefinition"


def apply_merge(target: dict, patch: dict, prefix: tuple[str, ...] = (), *, structured: bool = True) -> None:
    """Merge an applied configuration: maps field by field, associative lists and sets item by
    item (new items appended), atomic lists replaced."""
    for key, value in patch.items():
        if value is None:
            continue
        path = prefix + (f"f:{key}",)
        keys = list_keys(key, value, prefix) if structured else None
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            apply_merge(current, value, path, structured=structured)
        elif keys and isinstance(current, list):
            for item in value:
                element = item_key(keys, item)
                match = next((live for live in current if _matches(element, live)), None)
                if isinstance(match, dict):
                    apply_merge(match, item, path + (element,), structured=structured)
                else:
                    current.append(copy.deepcopy(item))
        elif structured and key in SET_LISTS and prefix == ("f:metadata",) and isinstance(current, list):
            current.extend(copy.deepcopy(item) for item in value if item not in current)
        else:
            target[key] = copy.deepcopy(value)


def merge_patch(target: dict, patch: dict) -> None:
    """A JSON merge patch (RFC 7386): null deletes, maps merge, anything else (lists too) replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def parse_bool(text: str) -> bool:
    """A boolean query parameter as the server reads it (Go's strconv.ParseBool)."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ApiStatus(400, "BadRequest", f'strconv.ParseBool: parsing "{text}": invalid syntax')


def path_text(path: tuple[str, ...]) -> str:
    """A field path as the server's conflict messages print it: `.spec.containers[name="web"].image`."""
    text = ""
    for element in path:
        if element.startswith("f:"):
            text += "." + element[2:]
        elif element.startswith("k:"):
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(element[2:]).items()) + "]"
        else:
            text += f"[={element[2:]}]"
    return text


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def stable_uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-kube/" + "/".join(parts)))


# -- the server -------------------------------------------------------------------------------------

class FakeKubeAPI:
    """The server's state and request handling (the HTTP plumbing is in `_Handler`)."""

    def __init__(self, state_path: Path, *, token: str = TOKEN):
        self.state_path = Path(state_path)
        self.token = token
        self.url = ""
        self.kubeconfig: Path | None = None
        self.requests: list[Seen] = []
        self.evictions: list[str] = []
        self._store: dict[tuple[str, str, str, str], dict] = {}
        self._refusals: dict[tuple[str, str], int] = {}
        self._graces: dict[tuple[str, str], float] = {}
        self._gone_at: dict[tuple[str, str, str, str], float] = {}
        self._versions = itertools.count(1)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name in INITIAL_NAMESPACES:
            self._insert(BUILTIN_KINDS[0], None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                         manager="kube-apiserver", operation="Update")

    # -- test API ------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def write_kubeconfig(self, path: Path, *, ca_pem: bytes | None = None) -> Path:
        """A kubeconfig with this server and its token; `ca_pem` becomes certificate-authority-data
        (for a server started with `tls=`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cluster: dict = {"server": self.url}
        if ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
        path.write_text(fakeyaml.dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "admin@fake", "user": {"token": self.token}}],
            "contexts": [{"name": "admin@fake", "context": {"cluster": "fake", "user": "admin@fake"}}],
            "current-context": "admin@fake",
        }))
        return path

    def add_pod(self, node: str, name: str, namespace: str = "default", *, daemonset: bool = False,
                mirror: bool = False, grace_seconds: float = 0.0) -> dict:
        """A Running pod on `node`, owned by a DaemonSet or (default) a ReplicaSet; `mirror` makes
        it a static pod's mirror. After an eviction it stays Terminating for `grace_seconds`."""
        owner = {"apiVersion": "apps/v1", "kind": "DaemonSet" if daemonset else "ReplicaSet",
                 "name": f"{name}-owner", "uid": stable_uid("owner", namespace, name), "controller": True,
                 "blockOwnerDeletion": True}
        metadata: dict = {"name": name, "namespace": namespace, "ownerReferences": [] if mirror else [owner]}
        if mirror:
            metadata["annotations"] = {"kubernetes.io/config.mirror": uuid.uuid4().hex}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
               "spec": {"nodeName": node, "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]},
               "status": {"phase": "Running"}}
        with self._lock:
            stored = self._insert(BUILTIN_KINDS[2], namespace, pod, manager="kubelet", operation="Update")
            if grace_seconds:
                self._graces[(namespace, name)] = grace_seconds
            return copy.deepcopy(stored)

    def refuse_evictions(self, pod: str, times: int) -> None:
        """The next `times` evictions of `pod` ("namespace/name", or a name in "default") answer
        429, as when a PodDisruptionBudget allows no disruption."""
        namespace, _, name = pod.rpartition("/")
        with self._lock:
            self._refusals[(namespace or "default", name)] = times

    def objects(self, kind: str) -> list[dict]:
        """Every object of `kind` ("Secret", "Node", "Kustomization", ...) as the API would list it."""
        state = fakestate.snapshot(self.state_path)
        with self._lock:
            self._expire_terminated()
            for candidate in self._served(state):
                if candidate.kind == kind:
                    return self._list(state, candidate, None)
        return []

    def writes(self) -> list[Seen]:
        """The requests that were not reads."""
        return [seen for seen in self.requests if seen.is_write]

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, dict] | None:
        """Answer one request; None means: close the connection without answering."""
        split = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        content_type = headers.get("content-type", "").split(";")[0].strip()
        with self._lock:
            self.requests.append(Seen(method, split.path, query, content_type))
            state = fakestate.snapshot(self.state_path)
            if not fakestate.kube_api_up(state):
                return None
            try:
                if headers.get("authorization") != f"Bearer {self.token}":
                    raise ApiStatus(401, "Unauthorized", "Unauthorized")
                self._expire_terminated()
                return self._route(state, method, split.path, query, content_type, body)
            except ApiStatus as status:
                return status.code, status.body

    def _route(self, state: dict, method: str, path: str, query: dict[str, str], content_type: str,
               body: bytes) -> tuple[int, dict]:
        parts = [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []
        if method == "GET" and parts == ["version"]:
            return 200, self._version(state)
        if method == "GET" and parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if method == "GET" and parts == ["apis"]:
            return 200, self._group_list(state)
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_found()
        if not rest:
            if method != "GET":
                raise ApiStatus(405, "MethodNotAllowed", NOT_ALLOWED)
            return 200, self._resource_list(state, group, version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise not_found()
        plural, name, sub = (rest + [None, None])[:3]
        kind = next((k for k in self._served(state) if (k.group, k.version, k.plural) == (group, version, plural)),
                    None)
        if kind is None or (namespace is not None and not kind.namespaced) or \
                (kind.namespaced and name and namespace is None):
            raise not_found()
        if sub is not None:
            if (kind.plural, sub, method) == ("pods", "eviction", "POST"):
                return self._evict(kind, namespace or "", name or "")
            raise not_found()
        if name is None:
            if method == "GET":
                return 200, self._list_answer(state, kind, namespace, query)
            if method == "POST":
                return 201, self._create(state, kind, namespace, query, self._decode(body, content_type))
        else:
            if method == "GET":
                return 200, self._get(state, kind, namespace, name)
            if method == "PATCH":
                return self._patch(state, kind, namespace, name, query, content_type, body)
            if method == "DELETE" and kind.plural == "nodes":
                return 200, self._delete_node(state, name)
        raise ApiStatus(405, "MethodNotAllowed", NOT_ALLOWED)

    def _delete_node(self, state: dict, name: str) -> dict:
        """DELETE a Node: gone until its kubelet registers it again (a running, configured machine
        does so at once, as a real kubelet would)."""
        deleted = self._get(state, BUILTIN_KINDS[1], None, name)
        with fakestate.locked_state(self.state_path) as live_state:
            node = next((n for n in live_state["nodes"] if n["hostname"] == name and registered(live_state, n)), None)
            if node is None:
                raise not_found(BUILTIN_KINDS[1], name)
            node["k8s_node"] = False
            node["k8s_node_deletions"] = node.get("k8s_node_deletions", 0) + 1
            node["cordoned"] = False
            if node["stage"] == "running" and node.get("config_hash"):
                fakestate.refresh_derived(live_state)
        return deleted

    # -- discovery -----------------------------------------------------------------------------

    def _served(self, state: dict) -> list[Kind]:
        kinds = list(BUILTIN_KINDS)
        if state.get("flux", {}).get("installed"):
            kinds += FLUX_KINDS
        for (group, plural, _ns, _name), crd in self._store.items():
            if (group, plural) != ("apiextensions.k8s.io", "customresourcedefinitions"):
                continue
            spec = crd["spec"]
            for version in spec.get("versions") or []:
                if version.get("served", True):
                    kinds.append(Kind(spec["group"], version["name"], spec["names"]["kind"], spec["names"]["plural"],
                                      spec.get("scope") != "Cluster"))
        unique: dict[tuple[str, str, str], Kind] = {}
        for kind in kinds:
            unique.setdefault((kind.group, kind.version, kind.plural), kind)
        return list(unique.values())

    def _version(self, state: dict) -> dict:
        version = state.get("cluster", {}).get("kubernetes_version", "v1.35.0")
        major, minor = version.lstrip("v").split(".")[:2]
        return {"major": major, "minor": minor, "gitVersion": version, "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.5",
                "compiler": "gc", "platform": "linux/amd64"}

    def _group_list(self, state: dict) -> dict:
        groups: dict[str, list[str]] = {}
        for kind in self._served(state):
            if kind.group and kind.version not in groups.setdefault(kind.group, []):
                groups[kind.group].append(kind.version)
        entries = []
        for group, versions in groups.items():
            listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            entries.append({"name": group, "versions": listed, "preferredVersion": listed[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": entries}

    def _resource_list(self, state: dict, group: str, version: str) -> dict:
        kinds = [k for k in self._served(state) if (k.group, k.version) == (group, version)]
        if not kinds:
            raise not_found()
        resources = [{"name": k.plural, "singularName": k.kind.lower(), "namespaced": k.namespaced, "kind": k.kind,
                      "verbs": ["create", "get", "list", "patch"]} for k in kinds]
        if group == "":
            resources.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                              "version": "v1", "kind": "Eviction", "verbs": ["create"]})
        api_version = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": resources}

    # -- reading -------------------------------------------------------------------------------

    def _list(self, state: dict, kind: Kind, namespace: str | None) -> list[dict]:
        if kind.kind == "Node":
            items = node_objects(state)
        elif kind.kind == "Namespace":
            items = self._namespace_objects(state)
        elif kind in FLUX_KINDS:
            items = self._flux_objects(state, kind)
        else:
            items = [copy.deepcopy(obj) for (group, plural, _ns, _name), obj in self._store.items()
                     if (group, plural) == (kind.group, kind.plural)]
        if namespace is not None:
            items = [obj for obj in items if obj["metadata"].get("namespace") == namespace]
        return sorted(items, key=lambda obj: (obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))

    def _list_answer(self, state: dict, kind: Kind, namespace: str | None, query: dict[str, str]) -> dict:
        items = self._list(state, kind, namespace)
        if query.get("labelSelector"):
            raise ApiStatus(400, "BadRequest", "the fake API server does not support labelSelector")
        for requirement in filter(None, query.get("fieldSelector", "").split(",")):
            field_name, _, value = requirement.replace("==", "=").partition("=")
            if field_name == "spec.nodeName" and kind.kind == "Pod":
                items = [obj for obj in items if obj["spec"].get("nodeName") == value]
            elif field_name in ("metadata.name", "metadata.namespace"):
                items = [obj for obj in items if obj["metadata"].get(field_name.split(".")[1]) == value]
            else:
                raise ApiStatus(400, "BadRequest",
                                f'field label not supported: {field_name}')
        return {"apiVersion": kind.api_version, "kind": f"{kind.kind}List",
                "metadata": {"resourceVersion": str(next(self._versions))}, "items": items}

    def _get(self, state: dict, kind: Kind, namespace: str | None, name: str) -> dict:
        for obj in self._list(state, kind, namespace):
            if obj["metadata"]["name"] == name:
                return obj
        raise not_found(kind, name)

    def _namespace_objects(self, state: dict) -> list[dict]:
        stored = [copy.deepcopy(obj) for (group, plural, _ns, _name), obj in self._store.items()
                  if (group, plural) == ("", "namespaces")]
        if state.get("flux", {}).get("installed") and FLUX_NAMESPACE not in {o["metadata"]["name"] for o in stored}:
            stored.append(add_server_fields(BUILTIN_KINDS[0], {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": FLUX_NAMESPACE, "uid": stable_uid("namespace", FLUX_NAMESPACE),
                             "resourceVersion": "1", "creationTimestamp": now_text()}}))
        return stored

    def _flux_objects(self, state: dict, kind: Kind) -> list[dict]:
        """Stored objects of a Flux kind, with the status the state gives them, plus the objects
        only the state knows (created by the fake flux-instance)."""
        from_state = {(item["namespace"], item["name"]): item for item in state.get("flux", {}).get(kind.plural, [])}
        objects = {}
        for (group, plural, namespace, name), stored in self._store.items():
            if (group, plural) == (kind.group, kind.plural):
                obj = copy.deepcopy(stored)
                item = from_state.get((namespace, name))
                if item is not None:
                    obj["status"] = flux_status(kind, item, obj["metadata"]["generation"])
                objects[(namespace, name)] = obj
        for key, item in from_state.items():
            if key not in objects:
                objects[key] = flux_object(kind, item)
        return list(objects.values())

    # -- writing -------------------------------------------------------------------------------

    def _decode(self, body: bytes, content_type: str) -> dict:
        text = body.decode("utf-8", errors="replace")
        try:
            data = json.loads(text)
        except ValueError:
            if "yaml" not in content_type:
                raise ApiStatus(400, "BadRequest", "the request body is not valid JSON") from None
            try:
                data = fakeyaml.load(text)
            except fakeyaml.YamlError as error:
                raise ApiStatus(400, "BadRequest", f"error decoding YAML: {error}") from None
        if not isinstance(data, dict):
            raise ApiStatus(400, "BadRequest", "the request body is not an object")
        return data

    def _check_identity(self, kind: Kind, namespace: str | None, obj: dict, name: str | None) -> None:
        if obj.get("kind") != kind.kind or obj.get("apiVersion") != kind.api_version:
            raise ApiStatus(400, "BadRequest", f"the body is a {obj.get('apiVersion')}/{obj.get('kind')}, "
                                               f"not a {kind.api_version}/{kind.kind}")
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("name"):
            raise ApiStatus(422, "Invalid", f"{kind.kind} is invalid: metadata.name: Required value: name is required")
        if name is not None and metadata["name"] != name:
            raise ApiStatus(400, "BadRequest", "the name of the object does not match the name on the URL")
        if kind.namespaced and metadata.get("namespace") not in (None, namespace):
            raise ApiStatus(400, "BadRequest",
                            "the namespace of the provided object does not match the namespace sent on the request")

    def _create(self, state: dict, kind: Kind, namespace: str | None, query: dict[str, str], obj: dict) -> dict:
        if kind.kind == "Node":
            raise ApiStatus(405, "MethodNotAllowed", "nodes register themselves (from the cluster state)")
        self._check_identity(kind, namespace, obj, None)
        key = (kind.group, kind.plural, namespace or "", obj["metadata"]["name"])
        if key in self._store:
            raise ApiStatus(409, "AlreadyExists", f'{kind.resource} "{key[3]}" already exists',
                            {"name": key[3], "group": kind.group, "kind": kind.plural})
        self._require_namespace(state, kind, namespace)
        return copy.deepcopy(self._insert(kind, namespace, obj, manager=query.get("fieldManager", "unknown"),
                                          operation="Update"))

    def _require_namespace(self, state: dict, kind: Kind, namespace: str | None) -> None:
        if kind.namespaced and namespace not in {o["metadata"]["name"] for o in self._namespace_objects(state)}:
            raise ApiStatus(404, "NotFound", f'namespaces "{namespace}" not found',
                            {"name": namespace, "kind": "namespaces"})

    def _insert(self, kind: Kind, namespace: str | None, obj: dict, *, manager: str, operation: str) -> dict:
        """Store a new object with the metadata the server owns."""
        request = normalize(kind, obj)
        stored = add_server_fields(kind, request)
        metadata = stored["metadata"]
        for key in SERVER_METADATA:
            metadata.pop(key, None)
        if kind.namespaced:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        metadata.update({"uid": str(uuid.uuid4()), "resourceVersion": str(next(self._versions)),
                         "generation": 1, "creationTimestamp": now_text()})
        metadata["managedFields"] = [managed_entry(manager, operation, kind,
                                                   field_paths(request, structured=has_list_schema(kind)))]
        self._store[(kind.group, kind.plural, namespace or "", metadata["name"])] = stored
        return stored

    def _patch(self, state: dict, kind: Kind, namespace: str | None, name: str, query: dict[str, str],
               content_type: str, body: bytes) -> tuple[int, dict]:
        if kind.kind == "Node":
            return 200, self._patch_node(state, name, content_type, body)
        key = (kind.group, kind.plural, namespace or "", name)
        if content_type == APPLY_PATCH:
            manager = query.get("fieldManager")
            if not manager:
                raise ApiStatus(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                                "is required for apply patch")
            document = self._decode(body, content_type)
            self._check_identity(kind, namespace, document, name)
            if key not in self._store:
                self._require_namespace(state, kind, namespace)
                return 201, copy.deepcopy(self._insert(kind, namespace, document, manager=manager, operation="Apply"))
            force = parse_bool(query.get("force", "false"))
            return 200, copy.deepcopy(self._apply(kind, key, document, manager, force))
        if content_type in MERGE_PATCHES:
            if key not in self._store:
                raise not_found(kind, name)
            patch = self._decode(body, content_type)
            live = self._store[key]
            updated = copy.deepcopy(live)
            merge_patch(updated, {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")})
            updated = add_server_fields(kind, normalize(kind, updated))
            self._record(kind, key, live, updated, query.get("fieldManager", "unknown"), "Update",
                         field_paths(normalize(kind, patch), structured=has_list_schema(kind)))
            return 200, copy.deepcopy(updated)
        raise ApiStatus(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                     f"accepted media types include: application/json-patch+json, "
                                                     f"application/merge-patch+json, {APPLY_PATCH}")

    def _apply(self, kind: Kind, key: tuple[str, str, str, str], document: dict, manager: str, force: bool) -> dict:
        """Server-side apply over a stored object: fields in conflict with another manager fail
        (409) unless forced; fields this manager applied before and no longer sets are removed."""
        live = self._store[key]
        desired = normalize(kind, document)
        structured = has_list_schema(kind)
        new_paths = field_paths(desired, structured=structured)
        conflicts = []
        for entry in live["metadata"].get("managedFields", []):
            if entry["manager"] == manager:
                continue
            for path in sorted(new_paths & from_fields_v1(entry["fieldsV1"])):
                if lookup(live, path) != lookup(desired, path):
                    conflicts.append((entry, path))
        if conflicts and not force:
            lines = [f'conflict with "{entry["manager"]}" using {entry["apiVersion"]}: {path_text(path)}'
                     for entry, path in conflicts]
            count = len(lines)
            raise ApiStatus(409, "Conflict", f"Apply failed with {count} conflict{'s' if count != 1 else ''}: "
                                             + "\n".join(lines),
                            {"causes": [{"reason": "FieldManagerConflict", "field": path_text(path)}
                                        for _entry, path in conflicts]})
        updated = copy.deepcopy(live)
        owned_before = set().union(*(from_fields_v1(e["fieldsV1"]) for e in live["metadata"].get("managedFields", [])
                                     if e["manager"] == manager and e["operation"] == "Apply"))
        owned_by_others = set().union(*(from_fields_v1(e["fieldsV1"]) for e in live["metadata"].get("managedFields", [])
                                        if e["manager"] != manager))
        # Whole items first: once an item has lost its key fields it can no longer be found.
        for path in sorted(owned_before - new_paths - owned_by_others, key=len):
            remove(updated, path)
        apply_merge(updated, {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "status")},
                    structured=structured)
        updated = add_server_fields(kind, updated)
        self._record(kind, key, live, updated, manager, "Apply", new_paths, take_over=force)
        return updated

    def _record(self, kind: Kind, key: tuple[str, str, str, str], live: dict, updated: dict, manager: str,
                operation: str, paths: set[tuple[str, ...]], *, take_over: bool = False) -> None:
        """Store `updated` with a new resourceVersion, a bumped generation when more than metadata
        changed, and `manager` owning `paths` (taken from the others when `take_over`)."""
        metadata = updated["metadata"]
        for owned in ("uid", "creationTimestamp", "generation", "resourceVersion", "name", "namespace"):
            if owned in live["metadata"]:
                metadata[owned] = live["metadata"][owned]
        entries = []
        for entry in live["metadata"].get("managedFields", []):
            if (entry["manager"], entry["operation"]) == (manager, operation):
                continue
            if take_over:
                kept = from_fields_v1(entry["fieldsV1"]) - paths
                if not kept:
                    continue
                entry = {**entry, "fieldsV1": to_fields_v1(kept)}
            entries.append(entry)
        entries.append(managed_entry(manager, operation, kind, paths))
        metadata["managedFields"] = entries
        if strip_metadata(updated) == strip_metadata(live) and ownership(updated) == ownership(live):
            self._store[key] = live
            return
        if {k: v for k, v in updated.items() if k not in ("metadata", "status")} != \
                {k: v for k, v in live.items() if k not in ("metadata", "status")}:
            metadata["generation"] = live["metadata"].get("generation", 1) + 1
        metadata["resourceVersion"] = str(next(self._versions))
        self._store[key] = updated

    def _patch_node(self, state: dict, name: str, content_type: str, body: bytes) -> dict:
        if content_type not in MERGE_PATCHES:
            raise ApiStatus(415, "UnsupportedMediaType", "the fake API server patches nodes with merge patches only")
        patch = self._decode(body, content_type)
        spec = patch.get("spec") or {}
        if set(patch) - {"spec"} or set(spec) - {"unschedulable"}:
            raise ApiStatus(422, "Invalid", "the fake API server only patches spec.unschedulable of nodes")
        with fakestate.locked_state(self.state_path) as live_state:
            node = next((n for n in live_state["nodes"] if n["hostname"] == name and registered(live_state, n)), None)
            if node is None:
                raise not_found(BUILTIN_KINDS[1], name)
            node["cordoned"] = bool(spec.get("unschedulable"))
            fakestate.refresh_derived(live_state)
            state = copy.deepcopy(live_state)
        return self._get(state, BUILTIN_KINDS[1], None, name)

    # -- eviction ------------------------------------------------------------------------------

    def _evict(self, kind: Kind, namespace: str, name: str) -> tuple[int, dict]:
        key = ("", "pods", namespace, name)
        pod = self._store.get(key)
        if pod is None:
            raise not_found(kind, name)
        if self._refusals.get((namespace, name), 0) > 0:
            self._refusals[(namespace, name)] -= 1
            raise ApiStatus(429, "TooManyRequests", PDB_MESSAGE, {"causes": [{
                "reason": "DisruptionBudget",
                "message": f"The disruption budget {name}-pdb needs 1 healthy pods and has 1 currently"}]})
        success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        if pod["metadata"].get("deletionTimestamp"):
            return 201, success  # already terminating: nothing more to do
        self.evictions.append(f"{namespace}/{name}")
        grace = self._graces.get((namespace, name), 0.0)
        if grace:
            pod["metadata"]["deletionTimestamp"] = now_text()
            pod["metadata"]["deletionGracePeriodSeconds"] = grace
            self._gone_at[key] = time.time() + grace
        else:
            del self._store[key]
        return 201, success

    def _expire_terminated(self) -> None:
        for key, gone_at in list(self._gone_at.items()):
            if gone_at <= time.time():
                self._store.pop(key, None)
                del self._gone_at[key]


# -- objects derived from the state ---------------------------------------------------------------------

def registered(state: dict, node: dict) -> bool:
    """A node object exists once the node was configured and joined a bootstrapped cluster; as in
    Kubernetes it stays (NotReady) while the machine reboots or after a reset, until it is deleted
    (see fakestate.refresh_derived)."""
    return bool(state.get("etcd", {}).get("bootstrapped") and node.get("k8s_node"))


def node_objects(state: dict) -> list[dict]:
    nodes = []
    for node in state.get("nodes", []):
        if not registered(state, node):
            continue
        if node["stage"] == "running" and not node.get("powered_off"):
            if node.get("kubernetes_ready"):
                condition = ("True", "KubeletReady", "kubelet is posting ready status")
            elif not state.get("cluster", {}).get("cni_ready"):
                condition = ("False", "KubeletNotReady", CNI_NOT_READY)
            else:
                condition = ("False", "KubeletNotReady", "node is not ready")
        else:
            condition = ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        labels = {"kubernetes.io/hostname": node["hostname"], "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "beta.kubernetes.io/arch": "amd64"}
        if node["role"] == "controlplane":
            labels["node-role.kubernetes.io/control-plane"] = ""
        spec: dict = {}
        if node.get("cordoned"):
            spec = {"unschedulable": True, "taints": [{"key": "node.kubernetes.io/unschedulable",
                                                       "effect": "NoSchedule", "timeAdded": now_text()}]}
        status, reason, message = condition
        nodes.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node["hostname"], "uid": stable_uid("node", node["hostname"]), "labels": labels,
                         "resourceVersion": "1", "creationTimestamp": now_text()},
            "spec": spec,
            "status": {
                "conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                                "lastHeartbeatTime": now_text(), "lastTransitionTime": now_text()}],
                "addresses": [{"type": "InternalIP", "address": node["ip"]},
                              {"type": "Hostname", "address": node["hostname"]}],
                "nodeInfo": {"kubeletVersion": state.get("cluster", {}).get("kubernetes_version", "v1.35.0"),
                             "osImage": f"Talos ({node.get('talos_version', '')})",
                             "containerRuntimeVersion": "containerd://2.1.5", "operatingSystem": "linux",
                             "architecture": "amd64"},
            },
        })
    return nodes


def flux_status(kind: Kind, item: dict, generation: int) -> dict:
    ready = bool(item.get("ready"))
    status: dict = {"observedGeneration": generation, "conditions": [{
        "type": "Ready", "status": "True" if ready else "False", "reason": FLUX_READY_REASONS[ready],
        "message": item.get("message", ""), "observedGeneration": generation,
        "lastTransitionTime": now_text()}]}
    revision = item.get("revision")
    if revision:  # where each controller reports it (source, kustomize and helm controller status types)
        if kind.group == "source.toolkit.fluxcd.io":
            status["artifact"] = {"revision": revision}
        elif kind.kind == "HelmRelease":
            status["lastAttemptedRevision"] = revision
            status["history"] = [{"chartName": item["name"], "chartVersion": revision, "status": "deployed"}]
        else:
            status["lastAppliedRevision"] = revision
    return status


def flux_object(kind: Kind, item: dict) -> dict:
    return {"apiVersion": kind.api_version, "kind": kind.kind,
            "metadata": {"name": item["name"], "namespace": item["namespace"], "generation": 1,
                         "uid": stable_uid(kind.plural, item["namespace"], item["name"])},
            "spec": {"suspend": bool(item.get("suspended")), "interval": "1h"},
            "status": flux_status(kind, item, 1)}


# -- object preparation ------------------------------------------------------------------------------------

def normalize(kind: Kind, obj: dict) -> dict:
    """A request body as the registry reads it: a Secret's stringData folded into base64 data
    (and that checked), a CRD validated."""
    stored = drop_nulls(obj)
    stored.setdefault("metadata", {})
    if kind.kind == "Secret":
        data = dict(stored.get("data") or {})
        for key, value in (stored.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        for key, value in data.items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise ApiStatus(422, "Invalid", f'Secret "{stored["metadata"].get("name")}" is invalid: '
                                                f"data[{key}]: Invalid value: illegal base64 data") from None
        if data:
            stored["data"] = data
    elif kind.kind == "CustomResourceDefinition":
        check_crd(stored)
    return stored


def drop_nulls(value):
    """A copy without null map values: the server does not store "no opinion"."""
    if isinstance(value, dict):
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [drop_nulls(item) for item in value]
    return value


def add_server_fields(kind: Kind, obj: dict) -> dict:
    """What the server adds: a Secret's type, a CRD's Established status, a namespace's phase, a
    Deployment's defaults (k8s.io/kubernetes pkg/apis/apps/v1 and core/v1 defaults.go)."""
    stored = copy.deepcopy(obj)
    if kind.kind == "Deployment":
        add_deployment_defaults(stored)
    if kind.kind == "Secret":
        stored.setdefault("type", "Opaque")
    elif kind.kind == "CustomResourceDefinition":
        spec = stored["spec"]
        storage = next((v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"])
        stored["status"] = {
            "acceptedNames": spec["names"], "storedVersions": [storage],
            "conditions": [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                           {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]}
    elif kind.kind == "Namespace":
        stored.setdefault("spec", {"finalizers": ["kubernetes"]})
        stored["status"] = {"phase": "Active"}
    return stored


def add_deployment_defaults(deployment: dict) -> None:
    spec = deployment.setdefault("spec", {})
    for key, value in (("replicas", 1), ("revisionHistoryLimit", 10), ("progressDeadlineSeconds", 600)):
        spec.setdefault(key, value)
    spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%",
                                                                             "maxSurge": "25%"}})
    pod = spec.setdefault("template", {}).setdefault("spec", {})
    for key, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                       ("dnsPolicy", "ClusterFirst"), ("securityContext", {}), ("schedulerName", "default-scheduler")):
        pod.setdefault(key, copy.deepcopy(value))
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def check_crd(crd: dict) -> None:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    problems = []
    if not spec.get("group"):
        problems.append("spec.group: Required value")
    if not names.get("plural") or not names.get("kind"):
        problems.append("spec.names: Required value: plural and kind")
    if not spec.get("versions"):
        problems.append("spec.versions: Invalid value: must have exactly one version marked as storage version")
    expected = f"{names.get('plural')}.{spec.get('group')}"
    name = crd["metadata"].get("name")
    if not problems and name != expected:
        problems.append(f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if problems:
        raise ApiStatus(422, "Invalid", f'CustomResourceDefinition.apiextensions.k8s.io "{name}" is invalid: '
                        + ", ".join(problems))


def managed_entry(manager: str, operation: str, kind: Kind, paths: set[tuple[str, ...]]) -> dict:
    return {"manager": manager, "operation": operation, "apiVersion": kind.api_version, "time": now_text(),
            "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}


def ownership(obj: dict) -> list[tuple[str, str, str]]:
    """Who owns which fields, without the timestamps."""
    return sorted((e["manager"], e["operation"], json.dumps(e["fieldsV1"], sort_keys=True))
                  for e in obj["metadata"].get("managedFields", []))


def strip_metadata(obj: dict) -> dict:
    """An object without the metadata that changes on every write (for "did anything change")."""
    stripped = copy.deepcopy(obj)
    for key in ("resourceVersion", "managedFields", "generation"):
        stripped["metadata"].pop(key, None)
    return stripped


# -- HTTP ------------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    server_version = "fake-kube-apiserver"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        answer = self.server.api.handle(self.command, self.path, headers, body)  # type: ignore[attr-defined]
        if answer is None:
            # The API server is down: drop the connection, as a dead endpoint behind a VIP would.
            self.close_connection = True
            return
        code, payload = answer
        data = json.dumps(payload, default=str).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None


def start_kube_api(state_path: Path, *, token: str = TOKEN, tls: tuple[Path, Path] | None = None) -> FakeKubeAPI:
    """Start a fake API server for the cluster in `state_path` on a free port of 127.0.0.1; with
    `tls=(certificate_file, key_file)` it speaks HTTPS."""
    api = FakeKubeAPI(state_path, token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.api = api  # type: ignore[attr-defined]
    scheme = "http"
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    api._server = server
    api.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    api._thread = threading.Thread(target=server.serve_forever, name="fake-kube-api", daemon=True,
                                   kwargs={"poll_interval": 0.05})
    api._thread.start()
    return api
