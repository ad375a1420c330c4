"""Python API for tests: build a simulated cluster, inject faults, read what the fake CLIs were asked.

    cluster = FakeCluster.create(tmp_path / "cluster.json", controllers=3, workers=1)
    cluster.fail_apply("10.0.0.11", times=2)          # apply-config fails twice, then works
    cluster.set_upgrade_seconds("10.0.0.12", 0.3)     # an upgrade keeps the node rebooting 0.3 s
    ... run production code with the env from fixtures.fake_tools ...
    assert cluster.node("10.0.0.11")["stage"] == "running"
    assert len(cluster.calls("talosctl", "apply-config")) == 3

The state is the JSON file the fakes share (see fakestate); every helper here takes the same
lock, so tests can change it while fake processes run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import fakestate, fakeyaml

VANILLA_SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
STAGES = ("maintenance", "installing", "running", "rebooting")


@dataclass(frozen=True)
class Call:
    """One invocation of a fake CLI, as logged in FAKE_CLUSTER_LOG."""

    tool: str
    argv: tuple[str, ...]
    cwd: str
    env_keys: tuple[str, ...]
    started: float
    returncode: int | None = None
    secret_env: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)

    def has(self, *tokens: str) -> bool:
        """True when every token appears in argv (order-insensitive)."""
        return all(token in self.argv for token in tokens)


def installer_image(version: str, schematic: str = VANILLA_SCHEMATIC, platform: str = "metal") -> str:
    return f"factory.talos.dev/{platform}-installer/{schematic}:{version}"


def _pem(kind: str, size: int) -> str:
    """Standard base64 of a PEM block with `size` random bytes, as Talos stores keys and certificates."""
    body = base64.b64encode(os.urandom(size)).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return base64.b64encode(f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()).decode()


def _token() -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[b % 36] for b in os.urandom(6)) + "." + "".join(alphabet[b % 36] for b in os.urandom(16))


def fake_talos_secrets() -> dict[str, str]:
    """Random secrets shaped like a Talos bundle's (base64 PEM keys, `[0-9a-z]{6}.[0-9a-z]{16}`
    tokens, 32-byte base64 secrets), so a test can tell whether any of them leaked."""
    return {
        "machine_token": _token(), "machine_ca_crt": _pem("CERTIFICATE", 300),
        "machine_ca_key": _pem("ED25519 PRIVATE KEY", 48), "cluster_id": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "cluster_secret": base64.b64encode(os.urandom(32)).decode(), "cluster_token": _token(),
        "secretbox": base64.b64encode(os.urandom(32)).decode(), "cluster_ca_crt": _pem("CERTIFICATE", 400),
        "cluster_ca_key": _pem("EC PRIVATE KEY", 121), "aggregator_ca_crt": _pem("CERTIFICATE", 350),
        "aggregator_ca_key": _pem("EC PRIVATE KEY", 121), "service_account_key": _pem("RSA PRIVATE KEY", 2350),
        "etcd_ca_crt": _pem("CERTIFICATE", 400), "etcd_ca_key": _pem("EC PRIVATE KEY", 121),
    }


# Secret values of fake_talos_secrets (certificates are public).
SECRET_FIELDS = ("machine_token", "machine_ca_key", "cluster_secret", "cluster_token", "secretbox", "cluster_ca_key",
                 "aggregator_ca_key", "service_account_key", "etcd_ca_key")


def machine_config(role: str, hostname: str, *, image: str, cluster_name: str, endpoint: str,
                   kubernetes_version: str, secrets: dict[str, str] | None = None,
                   cert_sans: tuple[str, ...] = ("127.0.0.1",)) -> str:
    """A v1alpha1 machine config laid out as Talos encodes one (secrets next to certSANs and the
    kubelet image, as in a real config, so a diff of an ordinary edit has them as context lines)."""
    s = secrets or fake_talos_secrets()
    sans = "".join(f"        - {san}\n" for san in cert_sans)
    text = (
        "version: v1alpha1\n"
        "debug: false\n"
        "persist: true\n"
        "machine:\n"
        f"    type: {role}\n"
        f"    token: {s['machine_token']}\n"
        "    ca:\n"
        f"        crt: {s['machine_ca_crt']}\n"
        f"        key: {s['machine_ca_key']}\n"
        "    certSANs:\n"
        f"{sans}"
        "    kubelet:\n"
        f"        image: ghcr.io/siderolabs/kubelet:{kubernetes_version}\n"
        "        defaultRuntimeSeccompProfileEnabled: true\n"
        "    network:\n"
        f"        hostname: {hostname}\n"
        "    install:\n"
        "        disk: /dev/sda\n"
        f"        image: {image}\n"
        "        wipe: false\n"
        "cluster:\n"
        f"    id: {s['cluster_id']}\n"
        f"    secret: {s['cluster_secret']}\n"
        "    controlPlane:\n"
        f"        endpoint: {endpoint}\n"
        f"    clusterName: {cluster_name}\n"
        f"    token: {s['cluster_token']}\n"
    )
    if role == "controlplane":
        text += (
            f"    secretboxEncryptionSecret: {s['secretbox']}\n"
            "    ca:\n"
            f"        crt: {s['cluster_ca_crt']}\n"
            f"        key: {s['cluster_ca_key']}\n"
            "    aggregatorCA:\n"
            f"        crt: {s['aggregator_ca_crt']}\n"
            f"        key: {s['aggregator_ca_key']}\n"
            "    serviceAccount:\n"
            f"        key: {s['service_account_key']}\n"
            "    apiServer:\n"
            f"        image: registry.k8s.io/kube-apiserver:{kubernetes_version}\n"
            "    etcd:\n"
            "        ca:\n"
            f"            crt: {s['etcd_ca_crt']}\n"
            f"            key: {s['etcd_ca_key']}\n"
        )
    else:
        text += "    ca:\n" f"        crt: {s['cluster_ca_crt']}\n" "        key: \"\"\n"
    return text


class FakeCluster:
    """Handle on one simulated cluster state file (and its call log)."""

    def __init__(self, path: Path, log_path: Path | None = None):
        self.path = Path(path)
        self.log_path = Path(log_path) if log_path else None

    # -- creation --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        controllers: int = 1,
        workers: int = 0,
        talos_version: str = "v1.12.11",
        kubernetes_version: str = "v1.35.0",
        stage: str = "maintenance",
        subnet: str = "10.0.0",
        first_host: int = 11,
        cluster_name: str = "kubernetes",
        endpoint: str | None = None,
        schematic: str = VANILLA_SCHEMATIC,
        install_seconds: float = 0.0,
        reboot_seconds: float = 0.0,
        etcd_join_seconds: float = fakestate.DEFAULT_TIMING["etcd_join_seconds"],
        log_path: Path | None = None,
        tool_versions: dict[str, str] | None = None,
    ) -> "FakeCluster":
        """Write a new state: `controllers` + `workers` nodes, all in `stage`.

        stage="maintenance": booted from the ISO, waiting for `apply-config --insecure`.
        stage="running": installed and configured, etcd bootstrapped, CNI ready, Flux installed
        (a working cluster for day-2 tests).
        """
        if stage not in ("maintenance", "running"):
            raise ValueError("create() starts nodes in 'maintenance' or 'running'")
        created = round(time.time())
        first_ip = f"{subnet}.{first_host}"
        endpoint = endpoint or f"https://{first_ip}:6443"
        image = installer_image(talos_version, schematic)
        talos_secrets = fake_talos_secrets()
        nodes = []
        roles = ["controlplane"] * controllers + ["worker"] * workers
        for index, role in enumerate(roles):
            hostname = f"k8s-{index}" if role == "controlplane" else f"k8s-worker-{index - controllers}"
            node = {
                "ip": f"{subnet}.{first_host + index}",
                "hostname": hostname,
                "role": role,
                "stage": stage,
                "talos_version": talos_version,
                "installer_image": image,
                "schematic": schematic,
                "config": None,
                "config_hash": None,
                "kubernetes_ready": False,
                "cordoned": False,
                "boot_id": str(uuid.uuid4()),
                "created_at": created,
                "pending": None,
                # fault injection
                "apply_failures_remaining": 0,
                "unreachable": False,
                "upgrade_seconds": None,
                "health_fail": False,
                "hang": 0,
                "powered_off": False,
            }
            if stage == "running":
                text = machine_config(role, hostname, image=image, cluster_name=cluster_name, endpoint=endpoint,
                                      kubernetes_version=kubernetes_version, secrets=talos_secrets)
                node["config"] = text
                node["config_hash"] = fakestate.sha256_text(text)
            nodes.append(node)
        running = stage == "running"
        state = {
            "version": 1,
            "cluster": {"name": cluster_name, "endpoint": endpoint, "kubernetes_version": kubernetes_version,
                        "cni_ready": running, "auto_ready": True, "talos_secrets": talos_secrets, "cni_releases": list(fakestate.DEFAULT_CNI_RELEASES),
                        "bad_images": []},
            "timing": {"install_seconds": install_seconds, "reboot_seconds": reboot_seconds,
                       "etcd_join_seconds": etcd_join_seconds},
            "tools": dict(fakestate.DEFAULT_TOOL_VERSIONS, **(tool_versions or {})),
            "nodes": nodes,
            "etcd": {"bootstrapped": False, "members": []},
            "flux": default_flux(installed=running),
            "helmfile": {"synced": [], "templated": [], "fail_releases": {}},
            "tofu": {"desired": [], "resources": [], "changes": [], "outputs": {}, "desired_outputs": {},
                     "serial": 0, "lock": None, "apply_error": None, "validate_errors": [],
                     "unformatted": []},
        }
        if running:
            state["etcd"]["bootstrapped"] = True
            state["etcd"]["members"] = [fakestate.new_member(n) for n in nodes if n["role"] == "controlplane"]
        fakestate.refresh_derived(state)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fakestate.write_json(path, state)
        return cls(path, log_path)

    # -- reading and editing -------------------------------------------------------------------

    def read(self) -> dict:
        """A settled copy of the whole state."""
        return fakestate.snapshot(self.path)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict]:
        """Change the state under the lock shared with the fake processes."""
        with fakestate.locked_state(self.path) as state:
            yield state
            fakestate.refresh_derived(state)

    def talos_secrets(self) -> dict[str, str]:
        """The secrets in the machine configs of this cluster's running nodes (fake_talos_secrets)."""
        return dict(self.read()["cluster"]["talos_secrets"])

    def node(self, address: str) -> dict:
        node = fakestate.find_node(self.read(), address)
        if node is None:
            raise KeyError(address)
        return node

    def nodes(self, role: str | None = None) -> list[dict]:
        return [n for n in self.read()["nodes"] if role is None or n["role"] == role]

    def ips(self, role: str | None = None) -> list[str]:
        return [n["ip"] for n in self.nodes(role)]

    def write_talosconfig(self, path: Path, *, endpoints: list[str] | None = None, nodes: list[str] | None = None,
                          context: str = "fake") -> Path:
        """A talosconfig the fake talosctl accepts (endpoints default to the control planes). The
        fakes do not check certificates, so the ca/crt/key values are placeholders."""
        endpoints = endpoints if endpoints is not None else self.ips("controlplane")
        entry: dict = {"endpoints": list(endpoints)}
        if nodes:
            entry["nodes"] = list(nodes)
        entry.update({"ca": "ZmFrZS1jYQ==", "crt": "ZmFrZS1jcnQ=", "key": "ZmFrZS1rZXk="})
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fakeyaml.dump({"context": context, "contexts": {context: entry}}))
        return path

    def _update_node(self, address: str, **changes: object) -> None:
        with self.edit() as state:
            node = fakestate.find_node(state, address)
            if node is None:
                raise KeyError(address)
            node.update(changes)

    def wait_settled(self, timeout: float = 5.0) -> dict:
        """Sleep until no node has a pending transition; returns the state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.read()
            pending = [n["pending"]["at"] for n in state["nodes"] if n.get("pending")]
            if not pending:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes still pending after {timeout}s")
            time.sleep(max(0.005, min(pending) - time.time() + 0.005))

    # -- fault injection -----------------------------------------------------------------------

    def fail_apply(self, address: str, times: int = 1) -> None:
        """The next `times` apply-config calls to this node fail with a connection error."""
        self._update_node(address, apply_failures_remaining=times)

    def set_unreachable(self, address: str, unreachable: bool = True) -> None:
        self._update_node(address, unreachable=unreachable)

    def set_client_unreachable(self, address: str, unreachable: bool = True) -> None:
        """This machine has no route to the node (another subnet, a firewall), but apid on the other
        nodes reaches it: it answers only through a talosconfig endpoint that proxies to it."""
        self._update_node(address, client_unreachable=unreachable)

    def set_foreign_ca(self, address: str, foreign: bool = True) -> None:
        """The node runs a config of another cluster: its API certificate is signed by a CA this
        cluster's talosconfig does not trust (and it demands a client certificate of that CA)."""
        self._update_node(address, foreign_ca=foreign)

    def set_upgrade_seconds(self, address: str, seconds: float) -> None:
        """How long an upgrade keeps this node rebooting."""
        self._update_node(address, upgrade_seconds=seconds)

    def set_health_fail(self, address: str, failing: bool = True) -> None:
        """`talosctl health` fails and `etcd status` reports errors because of this node."""
        self._update_node(address, health_fail=failing)

    def set_hang(self, address: str, seconds: float) -> None:
        """Commands addressed to this node sleep `seconds` before answering (0 = no hang)."""
        self._update_node(address, hang=seconds)

    def power_on(self, address: str) -> None:
        """Turn on a node that `reset` shut down (without --reboot)."""
        self._update_node(address, powered_off=False)

    def set_timing(self, *, install_seconds: float | None = None, reboot_seconds: float | None = None,
                   etcd_join_seconds: float | None = None) -> None:
        with self.edit() as state:
            for key, value in (("install_seconds", install_seconds), ("reboot_seconds", reboot_seconds),
                               ("etcd_join_seconds", etcd_join_seconds)):
                if value is not None:
                    state["timing"][key] = value

    def etcd_clusters(self) -> dict[str, list[str]]:
        """Every etcd cluster whose data some node holds: cluster ID -> hostnames holding it. More
        than one is a split brain (two control planes that do not know each other)."""
        clusters: dict[str, list[str]] = {}
        for node in self.read()["nodes"]:
            if node.get("etcd_data"):
                clusters.setdefault(node["etcd_data"], []).append(node["hostname"])
        return clusters

    def start_second_etcd(self, hostname: str, cluster_id: str = "second-cluster") -> None:
        """This controller runs an etcd cluster of its own with itself the only member (what a
        bootstrap on a controller still joining leaves), while the first cluster keeps listing it."""
        with self.edit() as state:
            node = next(node for node in state["nodes"] if node["hostname"] == hostname)
            node["etcd_data"] = cluster_id
            state["etcd"].setdefault("foreign", {})[cluster_id] = [fakestate.new_member(node)]

    def set_cni_ready(self, ready: bool = True) -> None:
        with self.edit() as state:
            state["cluster"]["cni_ready"] = ready

    def set_tool_hang(self, tool: str, seconds: float) -> None:
        """Every call of `tool` (talosctl, flux, helmfile, tofu) sleeps `seconds` before it starts."""
        with self.edit() as state:
            state.setdefault("tool_hang", {})[tool] = seconds

    def add_bad_image(self, image: str) -> None:
        """`talosctl upgrade --image IMAGE` fails to pull it."""
        with self.edit() as state:
            state["cluster"].setdefault("bad_images", []).append(image)

    # -- Flux ------------------------------------------------------------------------------------

    def set_flux_object(self, kind: str, name: str, namespace: str = "flux-system", *, ready: bool = True,
                        message: str | None = None, revision: str | None = None, suspended: bool = False) -> None:
        """Add or replace a Kustomization / HelmRelease / GitRepository (kind in flux_kinds())."""
        if kind not in FLUX_KINDS:
            raise ValueError(f"kind must be one of {sorted(FLUX_KINDS)}")
        default_message = {"kustomizations": "Applied revision: {rev}", "helmreleases":
                           "Helm upgrade succeeded for release {ns}/{name}.v1 with chart {name}@{rev}",
                           "gitrepositories": "stored artifact for revision '{rev}'"}[kind]
        revision = revision or ("1.0.0" if kind == "helmreleases" else DEFAULT_GIT_REVISION)
        item = {"name": name, "namespace": namespace, "ready": ready, "suspended": suspended, "revision": revision,
                "message": message or default_message.format(rev=revision, ns=namespace, name=name),
                "reconcile_count": 0}
        with self.edit() as state:
            items = [i for i in state["flux"][kind] if (i["namespace"], i["name"]) != (namespace, name)]
            items.append(item)
            state["flux"][kind] = items

    def set_kustomization(self, name: str, namespace: str = "flux-system", **options: object) -> None:
        self.set_flux_object("kustomizations", name, namespace, **options)  # type: ignore[arg-type]

    def set_helmrelease(self, name: str, namespace: str = "flux-system", **options: object) -> None:
        self.set_flux_object("helmreleases", name, namespace, **options)  # type: ignore[arg-type]

    def set_gitrepository(self, name: str, namespace: str = "flux-system", **options: object) -> None:
        self.set_flux_object("gitrepositories", name, namespace, **options)  # type: ignore[arg-type]

    def set_flux_installed(self, installed: bool = True) -> None:
        with self.edit() as state:
            state["flux"]["installed"] = installed

    # -- helmfile --------------------------------------------------------------------------------

    def fail_release(self, name: str, message: str = "context deadline exceeded") -> None:
        """`helmfile sync` fails on this release (and skips the ones that need it)."""
        with self.edit() as state:
            state["helmfile"]["fail_releases"][name] = message

    def synced_releases(self) -> list[str]:
        """Release IDs (`namespace/name`) in the order helmfile synced them."""
        return [entry["id"] for entry in self.read()["helmfile"]["synced"]]

    # -- OpenTofu --------------------------------------------------------------------------------

    def set_tofu(self, **values: object) -> None:
        """Set keys of the tofu section: desired (resource addresses the configuration declares),
        resources (in the state), changes (addresses updated in place), desired_outputs (outputs
        after apply: name -> value), lock ({"ID": ..., "Who": ...} held by someone else),
        apply_error, validate_errors, unformatted (file names `fmt -check` reports)."""
        with self.edit() as state:
            state["tofu"].update(values)

    # -- call log --------------------------------------------------------------------------------

    def calls(self, tool: str | None = None, *tokens: str) -> list[Call]:
        """Invocations in order, optionally only of `tool` and with every token in argv."""
        return read_calls(self.log_path, tool, *tokens) if self.log_path else []


FLUX_KINDS = ("kustomizations", "helmreleases", "gitrepositories")
DEFAULT_GIT_REVISION = "refs/heads/main@sha1:" + "0123456789abcdef0123456789abcdef01234567"


def default_flux(installed: bool) -> dict:
    """The objects flux-instance creates: the flux-system GitRepository and Kustomization."""
    flux: dict = {"installed": installed, "kustomizations": [], "helmreleases": [], "gitrepositories": []}
    if installed:
        flux["gitrepositories"].append({
            "name": "flux-system", "namespace": "flux-system", "ready": True, "suspended": False,
            "revision": DEFAULT_GIT_REVISION, "message": f"stored artifact for revision '{DEFAULT_GIT_REVISION}'",
            "reconcile_count": 0})
        flux["kustomizations"].append({
            "name": "flux-system", "namespace": "flux-system", "ready": True, "suspended": False,
            "revision": DEFAULT_GIT_REVISION, "message": f"Applied revision: {DEFAULT_GIT_REVISION}",
            "reconcile_count": 0, "source": "GitRepository/flux-system"})
    return flux


def read_calls(log_path: Path, tool: str | None = None, *tokens: str) -> list[Call]:
    """Parse a FAKE_CLUSTER_LOG file into Calls (start and exit records joined)."""
    if not Path(log_path).exists():
        return []
    starts: dict[str, dict] = {}
    exits: dict[str, int] = {}
    order: list[str] = []
    for line in Path(log_path).read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record["event"] == "start":
            starts[record["id"]] = record
            order.append(record["id"])
        else:
            exits[record["id"]] = record["returncode"]
    calls = []
    for call_id in order:
        record = starts[call_id]
        call = Call(tool=record["tool"], argv=tuple(record["argv"]), cwd=record["cwd"],
                    env_keys=tuple(record["env_keys"]), started=record["ts"], returncode=exits.get(call_id),
                    secret_env=dict(record.get("secret_env", {})), settings=dict(record.get("settings", {})))
        if (tool is None or call.tool == tool) and call.has(*tokens):
            calls.append(call)
    return calls
