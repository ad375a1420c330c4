"""The simulated cluster shared by the fake CLIs: a JSON file, a lock, time-based transitions and a call log.

Every fake process opens the state file named by `FAKE_CLUSTER_STATE` under an exclusive
`fcntl` lock, lets due transitions happen (`settle`), works on the dict and writes it back
atomically. Slow things (an install, an upgrade reboot) are stored as a pending transition with a
wall-clock deadline, so separate processes agree on what the cluster looks like at any moment.

Every invocation is appended to the JSON-lines file named by `FAKE_CLUSTER_LOG`: a `start` record
(tool, argv, cwd, the *names* of the environment variables, and for tofu a SHA-256 of each
credential value) and an `exit` record with the return code.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

STATE_ENV = "FAKE_CLUSTER_STATE"
LOG_ENV = "FAKE_CLUSTER_LOG"
KUBE_API_ENV = "FAKE_KUBE_API_URL"

# Versions the fake clients report about themselves; a state file may override them.
DEFAULT_TOOL_VERSIONS = {
    "talosctl": "v1.12.11",
    "flux": "v2.7.5",
    "helmfile": "v1.2.3",
    "tofu": "1.11.14",
}
# etcd_join_seconds: how long a configured control plane runs with empty etcd data before it has
# joined the cluster (Talos retries addMember every 3 s; a real join takes seconds).
DEFAULT_TIMING = {"install_seconds": 0.2, "reboot_seconds": 0.2, "etcd_join_seconds": 0.2}
# Releases whose sync installs the CNI: only then do nodes report Ready.
DEFAULT_CNI_RELEASES = ["cilium"]
# Environment variables whose values are credentials: logged as a hash, never in clear.
SECRET_ENV_PREFIXES = ("TF_VAR_", "TF_HTTP_")
# Non-secret settings whose values the call log keeps, so tests can check how a tool was configured.
LOGGED_SETTINGS = ("TALOSCONFIG", "KUBECONFIG", "AWS_REQUEST_CHECKSUM_CALCULATION",
                   "AWS_RESPONSE_CHECKSUM_VALIDATION", "TF_IN_AUTOMATION", "TF_INPUT")


class StateMissing(RuntimeError):
    """FAKE_CLUSTER_STATE is unset or points at no file."""


def state_path() -> Path:
    value = os.environ.get(STATE_ENV)
    if not value:
        raise StateMissing(f"{STATE_ENV} is not set: the fake CLIs need a simulated cluster state file")
    path = Path(value)
    if not path.is_file():
        raise StateMissing(f"{STATE_ENV}={value} does not exist")
    return path


def now() -> float:
    return time.time()


def read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_json(path: Path, data: dict) -> None:
    """Atomic replace, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, path)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock on `<path>.lock`, shared by every fake process and the test helpers."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def locked_state(path: Path | None = None) -> Iterator[dict]:
    """The state, settled to now, for reading and changing; written back when the block ends."""
    path = path or state_path()
    with file_lock(path):
        state = read_json(path)
        settle(state, now())
        yield state
        write_json(path, state)


def snapshot(path: Path | None = None) -> dict:
    """A settled copy of the state (transitions that fell due are persisted too)."""
    with locked_state(path) as state:
        return json.loads(json.dumps(state))


# -- time-based transitions and derived facts ------------------------------------------------

def settle(state: dict, at: float) -> None:
    """Apply every pending transition whose deadline has passed, then refresh derived facts."""
    for node in state.get("nodes", []):
        pending = node.get("pending")
        if pending and pending["at"] <= at:
            node.update(pending.get("set", {}))
            node["stage"] = pending["stage"]
            if pending.get("reboot"):
                node["boot_id"] = str(uuid.uuid4())
            node["pending"] = None
    refresh_derived(state)


def refresh_derived(state: dict) -> None:
    """etcd membership follows the running control planes; Ready follows etcd + the CNI.

    Each node keeps its own etcd data (`etcd_data`: the ID of the etcd cluster whose data is on
    its EPHEMERAL partition, None while empty), as Talos does. A configured control plane with no
    data joins the bootstrapped cluster `etcd_join_seconds` after it runs; until then its data
    stays empty, which is exactly when Talos would accept a `bootstrap` on it (see cmd_bootstrap).
    Joining replaces a stale member of the same hostname, as Talos's addMember does."""
    etcd = state.setdefault("etcd", {"bootstrapped": False, "members": []})
    cluster = state.setdefault("cluster", {})
    if etcd.get("bootstrapped") and not etcd.get("cluster_id"):
        # A state written without per-node data (by hand in a test): the members hold it.
        etcd["cluster_id"] = new_cluster_id()
        for member in etcd["members"]:
            node = find_node(state, member["hostname"]) or find_node(state, member["ip"])
            if node is not None and "etcd_data" not in node:
                node["etcd_data"] = etcd["cluster_id"]
    if etcd.get("bootstrapped"):
        for node in state.get("nodes", []):
            joining = (node["role"] == "controlplane" and node["stage"] == "running" and node.get("config_hash")
                       and not node.get("etcd_data"))
            if not joining:
                node.pop("etcd_join_at", None)
                continue
            join_at = node.get("etcd_join_at")
            if join_at is None:
                node["etcd_join_at"] = now() + timing(state, "etcd_join_seconds")
                continue
            if join_at > now() or not etcd_quorum(state):
                continue
            etcd["members"] = [m for m in etcd["members"] if m["hostname"] != node["hostname"]] + [new_member(node)]
            node["etcd_data"] = etcd["cluster_id"]
            node.pop("etcd_join_at", None)
        holders = {node.get("etcd_data") for node in state.get("nodes", []) if node.get("etcd_data")}
        if not etcd["members"] or etcd.get("cluster_id") not in holders:
            # Every copy of the data is wiped: the cluster (and every object in it) is gone.
            etcd.update({"bootstrapped": False, "cluster_id": None, "members": []})
        etcd["foreign"] = {key: members for key, members in (etcd.get("foreign") or {}).items() if key in holders}
    for node in state.get("nodes", []):
        # The Node object lives in etcd: registered once the kubelet joins, kept (NotReady) while
        # the machine is down or wiped, until deleted or until etcd itself is gone.
        if not etcd.get("bootstrapped"):
            node["k8s_node"] = False
        elif node["stage"] == "running" and node.get("config_hash"):
            node["k8s_node"] = True
    etcd["healthy"] = bool(etcd.get("bootstrapped")) and not etcd.get("foreign") and all(
        member_running(state, member, etcd.get("cluster_id")) for member in etcd["members"])
    if cluster.get("auto_ready", True):
        for node in state.get("nodes", []):
            node["kubernetes_ready"] = bool(
                node["stage"] == "running" and node.get("config_hash") and etcd.get("bootstrapped")
                and cluster.get("cni_ready") and not node.get("powered_off"))


def member_running(state: dict, member: dict, cluster_id: str | None) -> bool:
    """Whether the node behind an etcd member runs etcd with this cluster's data."""
    node = find_node(state, member["hostname"])
    return (node is not None and node["stage"] == "running" and node.get("etcd_data") == cluster_id
            and not node.get("health_fail") and not node.get("unreachable") and not node.get("powered_off"))


def etcd_quorum(state: dict) -> bool:
    """More than half of the bootstrapped cluster's members run: it accepts a new member."""
    etcd = state["etcd"]
    running = sum(1 for member in etcd["members"] if member_running(state, member, etcd.get("cluster_id")))
    return running * 2 > len(etcd["members"])


def new_cluster_id() -> str:
    return uuid.uuid4().hex[:16]


def etcd_cluster_members(state: dict, node: dict) -> list[dict] | None:
    """The members of the etcd cluster whose data this node holds (None: it runs no etcd)."""
    data = node.get("etcd_data")
    etcd = state.get("etcd", {})
    if not data:
        return None
    if data == etcd.get("cluster_id"):
        members = etcd.get("members", [])
    else:
        members = (etcd.get("foreign") or {}).get(data, [])
    return members if any(m["hostname"] == node["hostname"] for m in members) else None


def new_member(node: dict) -> dict:
    return {"id": member_id(node["hostname"]), "hostname": node["hostname"], "ip": node["ip"], "learner": False}


def member_id(hostname: str) -> str:
    """A stable 64-bit etcd member ID, hex as talosctl prints it."""
    return hashlib.sha256(hostname.encode()).hexdigest()[:16]


def find_node(state: dict, address: str) -> dict | None:
    for node in state.get("nodes", []):
        if address in (node["ip"], node["hostname"]):
            return node
    return None


def kube_api_up(state: dict) -> bool:
    """The Kubernetes API answers once etcd is bootstrapped and a control plane runs."""
    if not state.get("etcd", {}).get("bootstrapped"):
        return False
    return any(node["role"] == "controlplane" and node["stage"] == "running" and not node.get("unreachable")
               and not node.get("powered_off") for node in state.get("nodes", []))


def tool_version(state: dict | None, tool: str) -> str:
    versions = (state or {}).get("tools", {})
    return versions.get(tool, DEFAULT_TOOL_VERSIONS[tool])


def client_version(tool: str) -> str:
    """The fake client's own version: from the state file when there is one (client-only commands
    such as `--version` must work without a cluster)."""
    try:
        return tool_version(read_json(state_path()), tool)
    except (StateMissing, OSError, ValueError):
        return DEFAULT_TOOL_VERSIONS[tool]


def timing(state: dict, key: str) -> float:
    return float(state.get("timing", {}).get(key, DEFAULT_TIMING[key]))


def sha256_text(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


# -- call log -----------------------------------------------------------------------------------

class CallLog:
    """Appends this process's start and exit records to FAKE_CLUSTER_LOG (if set).

    `env_keys` lists the names of the environment variables (for a tool handling credentials,
    `secret_env=True`, only the TF_VAR_*/TF_HTTP_* names), `secret_env` maps those credential
    names to a SHA-256 of their values, and `settings` keeps the values of a few non-secret
    settings (LOGGED_SETTINGS). No credential value is ever written."""

    def __init__(self, tool: str, argv: list[str], *, secret_env: bool = False):
        self.tool = tool
        self.call_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = os.environ.get(LOG_ENV)
        credentials = {name: value for name, value in os.environ.items() if name.startswith(SECRET_ENV_PREFIXES)}
        record: dict = {
            "event": "start",
            "id": self.call_id,
            "tool": tool,
            "argv": argv,
            "cwd": os.getcwd(),
            "env_keys": sorted(credentials) if secret_env else sorted(os.environ),
            "settings": {name: os.environ[name] for name in LOGGED_SETTINGS if name in os.environ},
            "ts": round(now(), 4),
        }
        if secret_env:
            record["secret_env"] = {name: sha256_text(value) for name, value in sorted(credentials.items())}
        self._append(record)

    def exit(self, code: int) -> None:
        self._append({"event": "exit", "id": self.call_id, "tool": self.tool, "returncode": code,
                      "ts": round(now(), 4)})

    def _append(self, record: dict) -> None:
        if not self.path:
            return
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            fcntl.flock(handle, fcntl.LOCK_UN)


def hang_tool(tool: str) -> None:
    """Sleep first when the state asks this tool to hang (`tool_hang: {"tofu": 2.5}`)."""
    try:
        seconds = read_json(state_path()).get("tool_hang", {}).get(tool, 0)
    except (StateMissing, OSError, ValueError):
        return
    if seconds:
        time.sleep(float(seconds))


def kubeconfig_path(explicit: str | None = None) -> Path | None:
    """The kubeconfig a Kubernetes client would load (--kubeconfig, $KUBECONFIG, ~/.kube/config),
    or None when there is none."""
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for candidate in [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]:
        if Path(candidate).is_file():
            return Path(candidate)
    default = Path.home() / ".kube" / "config"
    return default if default.is_file() else None


def run_tool(tool: str, main, argv: list[str], *, secret_env: bool = False) -> int:
    """Entry point shared by the executables: log the call, run `main`, log the exit code."""
    log = CallLog(tool, argv, secret_env=secret_env)
    code = 1
    try:
        hang_tool(tool)
        code = main(argv)
    except StateMissing as error:
        sys.stderr.write(f"fake {tool}: {error}\n")
        code = 2
    except KeyboardInterrupt:
        code = 130
    finally:
        sys.stdout.flush()
        log.exit(code)
    return code
