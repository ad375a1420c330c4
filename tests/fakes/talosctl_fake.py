"""A fake `talosctl` (v1.12) that drives the simulated cluster in fakestate.

Argument parsing, output formats and error texts follow talosctl v1.12.11's source
(`cmd/talosctl/cmd/talos/*.go`): resource output is one `{"node", "metadata", "spec"}` object per
resource (JSON: 4-space indented objects one after another, keys sorted; YAML: documents joined
by `---`), tables come from text/tabwriter, gRPC errors read `rpc error: code = X desc = Y`, and
errors from several nodes are joined the way hashicorp/go-multierror prints them.

The Talos API rules that matter to an orchestrator are enforced: a node in maintenance mode only
answers `--insecure` calls (and refuses `--mode=no-reboot|staged`), a configured node refuses
them; `bootstrap` answers AlreadyExists once etcd has data; sensitive resources need the secure
API; a node that is installing or rebooting does not answer (see talos_api). Resources and their
output formats live in talos_resources.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import fakestate
import fakeyaml
from fakecli import CliError, Command, Flag, Parsed, format_duration, humanize_bytes, multierror, parse, tabwriter
from talos_api import (
    API_PORT, MAINTENANCE_ONLY_ADMIN, NOT_AUTHORIZED, Session, TalosError, UNAVAILABLE, config_facts, dial_error,
    installer_facts, parse_version, server_version_warnings, talosconfig_path, with_hang,
)
from talos_resources import (
    RESOURCES, ResourceWriter, node_resources, resolve_type, resource_document,
)

DEFAULT_KUBERNETES_VERSION = "1.35.4"


# -- commands ------------------------------------------------------------------------------------

def cmd_get(parsed: Parsed) -> int:
    type_name = resolve_type(parsed.args[0])
    wanted_id = parsed.args[1] if len(parsed.args) > 1 else None
    if parsed["watch"]:
        raise TalosError("fake talosctl: --watch is not supported")
    session = Session(parsed, insecure=parsed["insecure"])
    with_hang(session)
    writer = ResourceWriter(parsed["output"], type_name)
    definition = RESOURCES[type_name]
    errors: list[str] = []
    with fakestate.locked_state() as state:
        session.connect(state)
        targets = session.targets()
        if not session.insecure:
            server_version_warnings(state, targets)
        for position, address in enumerate(targets):
            error = session.node_error(state, address)
            if error and position == 0:
                # The resource definition is resolved on the first node: its failure ends the command.
                raise TalosError(error)
            if error is None and definition.get("sensitive") and session.insecure:
                error = NOT_AUTHORIZED
            if error:
                errors.append(error)
                continue
            node = fakestate.find_node(state, address)
            namespace = parsed["namespace"] or definition["namespace"]
            if namespace != definition["namespace"]:
                continue
            label = "" if session.insecure else address
            items = node_resources(state, node, type_name)
            if wanted_id is not None:
                items = [item for item in items if item[0] == wanted_id]
                if not items:
                    errors.append(f'rpc error: code = NotFound desc = resource {type_name}({namespace}/{wanted_id}@'
                                  "undefined) doesn't exist")
            for resource_id, spec in items:
                writer.write(resource_document(label, node, type_name, resource_id, spec))
    writer.flush()
    if errors:
        raise TalosError(multierror(errors).rstrip("\n") + "\n")
    return 0


def cmd_apply_config(parsed: Parsed) -> int:
    for argument in parsed.args:
        if argument != "config" and argument.lower() != "machineconfig":
            raise TalosError(f"unknown positional argument {argument}")
    mode = parsed["mode"]
    if mode == "interactive":
        raise TalosError("fake talosctl: --mode=interactive is not supported")
    filename = parsed["file"]
    if not filename:
        raise TalosError("no filename supplied for configuration")
    try:
        data = Path(filename).read_text()
    except OSError as error:
        raise TalosError(f'failed to read configuration from "{filename}": open {filename}: '
                         f"{os.strerror(error.errno or 2).lower()}") from None
    if not data:
        raise TalosError("no configuration data read")
    for patch in parsed["config-patch"]:
        data += f"\n# config patch: {patch}\n"
    session = Session(parsed, insecure=parsed["insecure"])
    with_hang(session)
    messages: list[str] = []
    errors: list[str] = []
    with fakestate.locked_state() as state:
        session.connect(state, "error applying new configuration: ")
        facts = config_facts(data)
        for address in session.targets():
            node = fakestate.find_node(state, address)
            error = session.node_error(state, address)
            if error is None and node.get("apply_failures_remaining", 0) > 0:
                node["apply_failures_remaining"] -= 1
                error = UNAVAILABLE.format(address=address, port=API_PORT, reason="connection refused")
            if error is None:
                try:
                    messages.append(apply_to_node(state, node, data, facts, parsed))
                except TalosError as refused:
                    error = str(refused)
            if error:
                errors.append(error if session.insecure else f"{address}: {error}")
    for message in messages:
        if message:
            sys.stderr.write(message + "\n")
    if errors:
        body = errors[0] if session.insecure else multierror(errors)
        raise TalosError(f"error applying new configuration: {body}")
    return 0


def apply_to_node(state: dict, node: dict, data: str, facts: dict, parsed: Parsed) -> str:
    """Apply (or dry-run) a config on one reachable node; returns the mode details talosctl prints."""
    mode = parsed["mode"]
    digest = fakestate.sha256_text(data)
    if node["stage"] == "maintenance":
        if mode not in ("auto", "reboot", "try"):
            raise TalosError(f"rpc error: code = Unimplemented desc = apply configuration --mode='{mode}' "
                             "is not supported in maintenance mode")
        if parsed["dry-run"]:
            return "Dry run summary:\nNode is running in maintenance mode and does not have a config yet."
        updates = {key: facts[key] for key in ("role", "hostname", "talos_version", "installer_image", "schematic")
                   if facts.get(key)}
        node.update({"config": data, "config_hash": digest, "stage": "installing", "cordoned": False})
        node["pending"] = {"at": fakestate.now() + fakestate.timing(state, "install_seconds"), "stage": "running",
                           "set": updates, "reboot": True}
        node["apply_count"] = node.get("apply_count", 0) + 1
        return ""
    details = {"no-reboot": "Applied configuration without a reboot",
               "auto": "Applied configuration without a reboot",
               "reboot": "Applied configuration with a reboot",
               "staged": "Staged configuration to be applied after the next reboot",
               "try": "Applied configuration without a reboot"}[mode]
    if parsed["dry-run"]:
        import difflib  # only dry runs need it; keep start-up fast

        diff = "".join(difflib.unified_diff((node.get("config") or "").splitlines(keepends=True),
                                            data.splitlines(keepends=True), "a", "b"))
        return f"Dry run summary:\n{details} (skipped in dry-run).\nConfig diff:\n\n{diff or 'No changes.'}"
    node["apply_count"] = node.get("apply_count", 0) + 1
    if mode == "staged":
        node["staged_config"] = data
        return details
    node.update({"config": data, "config_hash": digest})
    if facts.get("role"):
        node["role"] = facts["role"]
    if mode == "reboot":
        node["stage"] = "rebooting"
        node["pending"] = {"at": fakestate.now() + fakestate.timing(state, "reboot_seconds"), "stage": "running",
                           "set": {}, "reboot": True}
    if mode == "try":
        details += ("\nThe config is applied in 'try' mode and will be automatically reverted back in "
                    f"{format_duration(parsed['timeout'])}")
    return details


def cmd_version(parsed: Parsed) -> int:
    client = fakestate.client_version("talosctl")
    if not parsed["json"]:
        sys.stdout.write("Client:\n")
        if parsed["short"]:
            sys.stdout.write(f"Talos {client}\n")
        else:
            sys.stdout.write(version_block(client))
        if parsed["client"]:
            return 0
        sys.stdout.write("Server:\n")
    session = Session(parsed, insecure=parsed["insecure"])
    with_hang(session)
    errors = []
    with fakestate.locked_state() as state:
        session.connect(state, "error getting version: ")
        for address in session.targets():
            error = session.node_error(state, address)
            if error is None and session.insecure:
                error = MAINTENANCE_ONLY_ADMIN
            if error:
                errors.append(error if session.insecure else f"{address}: {error}")
                continue
            node = fakestate.find_node(state, address)
            if parsed["json"]:
                sys.stdout.write(json.dumps({
                    "metadata": {"hostname": address},
                    "version": {"tag": node["talos_version"], "sha": sha_for(node["talos_version"]),
                                "goVersion": "go1.25.5", "os": "linux", "arch": "amd64"},
                    "platform": {"name": node.get("platform", "metal"), "mode": node.get("platform", "metal")},
                    "features": {"rbac": True}}, separators=(",", ":")) + "\n")
                continue
            sys.stdout.write(f"\tNODE:        {address}\n")
            sys.stdout.write(version_block(node["talos_version"]))
            sys.stdout.write("\tEnabled:     RBAC\n")
    if errors:
        if len(errors) == len(session.targets()):
            body = errors[0] if session.insecure else multierror(errors)
            raise TalosError(f"error getting version: {body}")
        sys.stderr.write("WARNING: " + multierror(errors))
    return 0


def sha_for(version: str) -> str:
    return fakestate.sha256_text("talos/" + version)[:8]


def version_block(tag: str) -> str:
    return (f"\tTag:         {tag}\n\tSHA:         {sha_for(tag)}\n\tBuilt:       \n"
            "\tGo version:  go1.25.5\n\tOS/Arch:     linux/amd64\n")


def single_node(session: Session, command: str) -> str:
    if len(session.nodes) > 1:
        raise TalosError(f'command "{command}" is not supported with multiple nodes')
    return session.nodes[0]


def cmd_bootstrap(parsed: Parsed) -> int:
    session = Session(parsed, insecure=False)
    with_hang(session)
    if parsed["recover-from"]:
        raise TalosError("fake talosctl: --recover-from is not supported")
    with fakestate.locked_state() as state:
        session.connect(state, "error executing bootstrap: ")
        if len(session.nodes) > 1:
            raise TalosError('command "bootstrap" is not supported with multiple nodes')
        address = session.nodes[0]
        node = fakestate.find_node(state, address)
        error = session.node_error(state, address)
        if error is None:
            if node["role"] != "controlplane":
                error = "rpc error: code = FailedPrecondition desc = bootstrap can only be performed on a control plane node"
            elif node.get("etcd_data"):
                # Talos looks only at this node's etcd data directory, never at the other nodes.
                error = "rpc error: code = AlreadyExists desc = etcd data directory is not empty"
        if error:
            raise TalosError("error executing bootstrap: " + multierror([f"{address}: {error}"]))
        etcd = state["etcd"]
        cluster_id = fakestate.new_cluster_id()
        node["etcd_data"] = cluster_id
        node.pop("etcd_join_at", None)
        if etcd.get("bootstrapped"):
            # Another etcd cluster already exists: this node starts a second one beside it.
            etcd.setdefault("foreign", {})[cluster_id] = [fakestate.new_member(node)]
        else:
            etcd.update({"bootstrapped": True, "bootstrapped_by": node["hostname"], "cluster_id": cluster_id,
                         "members": [fakestate.new_member(node)]})
        fakestate.refresh_derived(state)
    return 0


def kubeconfig_document(state: dict, node: dict, context_name: str | None) -> dict:
    facts = config_facts(node["config"]) if node.get("config") else {}
    cluster_name = facts.get("cluster_name") or state.get("cluster", {}).get("name", "kubernetes")
    server = os.environ.get(fakestate.KUBE_API_ENV) or facts.get("cluster_endpoint") \
        or state.get("cluster", {}).get("endpoint") or f"https://{node['ip']}:6443"
    user = f"admin@{cluster_name}"
    name = context_name or user
    cluster: dict = {"server": server}
    if server.startswith("https://"):
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": {"token": "fake-admin-token"}}],
        "contexts": [{"context": {"cluster": cluster_name, "namespace": "default", "user": user}, "name": name}],
        "current-context": name,
    }


def merge_kubeconfig(existing: dict, new: dict, force: bool) -> dict:
    """clientcmd-style merge: same-named entries are overwritten with --force, else renamed."""
    merged = dict(existing)
    renames: dict[str, str] = {}
    for section in ("clusters", "users", "contexts"):
        entries = list(existing.get(section) or [])
        names = {entry.get("name") for entry in entries}
        for entry in new[section]:
            entry = json.loads(json.dumps(entry))
            if entry["name"] in names:
                if force:
                    entries = [e for e in entries if e.get("name") != entry["name"]]
                else:
                    renamed = f"{entry['name']}-1"
                    renames[entry["name"]] = renamed
                    entry["name"] = renamed
            entries.append(entry)
        merged[section] = entries
    context = renames.get(new["current-context"], new["current-context"])
    merged["current-context"] = context
    return merged


def cmd_kubeconfig(parsed: Parsed) -> int:
    session = Session(parsed, insecure=False)
    with_hang(session)
    with fakestate.locked_state() as state:
        address = single_node(session, "kubeconfig")
        session.connect(state, "error copying: ")
        if parsed.args:
            local = Path(parsed.args[0])
        elif parsed["merge"]:
            local = Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")
        else:
            local = Path.cwd()
        to_stdout = str(local) == "-"
        merge = parsed["merge"]
        if not to_stdout:
            local = Path(os.path.normpath(local))
            if local.is_dir():
                local = local / "kubeconfig"
            else:
                local.parent.mkdir(parents=True, exist_ok=True)
            if local.exists() and not (parsed["force"] or merge):
                raise TalosError(f'kubeconfig file already exists, use --force to overwrite: "{local}"')
            if not local.exists():
                merge = False
        node = fakestate.find_node(state, address)
        error = session.node_error(state, address)
        if error is None and node["role"] != "controlplane":
            error = "rpc error: code = Unimplemented desc = kubeconfig is only available on control plane nodes"
        if error:
            raise TalosError(f"error copying: {multierror([f'{address}: {error}'])}")
        document = kubeconfig_document(state, node, parsed["force-context-name"] or None)
        state.setdefault("kubeconfig_fetches", 0)
        state["kubeconfig_fetches"] += 1
    if to_stdout:
        sys.stdout.write(fakeyaml.dump(document))
        return 0
    if merge:
        existing = fakeyaml.load(local.read_text()) or {}
        document = merge_kubeconfig(existing if isinstance(existing, dict) else {}, document, parsed["force"])
    local.write_text(fakeyaml.dump(document))
    os.chmod(local, 0o600)
    return 0


HEALTH_CHECKS = [
    "etcd to be healthy", "etcd members to be consistent across nodes", "etcd members to be control plane nodes",
    "apid to be ready", "all nodes memory sizes", "all nodes disk sizes", "no diagnostics",
    "kubelet to be healthy", "all nodes to finish boot sequence", "all k8s nodes to report",
    "all control plane static pods to be running", "all control plane components to be ready",
    "all k8s nodes to report ready", "kube-proxy to report ready", "coredns to report ready",
    "all k8s nodes to report schedulable",
]


def health_problems(state: dict, controlplanes: list[str], workers: list[str]) -> dict[str, str]:
    """The first failing check (name -> message), or {} when the cluster is healthy."""
    members = list(controlplanes) + list(workers)
    nodes = [fakestate.find_node(state, address) for address in members]
    if not state["etcd"].get("bootstrapped"):
        return {"etcd to be healthy": "etcd isn't bootstrapped"}
    if state["etcd"].get("foreign"):
        return {"etcd members to be consistent across nodes": "etcd member lists differ between control plane nodes"}
    for address, node in zip(members, nodes):
        if node is None or dial_error(node, address, from_client=False) or node["stage"] != "running":
            stage = node["stage"] if node else "unknown"
            return {"apid to be ready": multierror([f"{address}: node is not ready: stage {stage}"]).strip()}
        if node.get("health_fail"):
            service = "etcd" if node["role"] == "controlplane" else "kubelet"
            check = "etcd to be healthy" if service == "etcd" else "kubelet to be healthy"
            return {check: multierror([f'{address}: service "{service}" not in expected state "Running": '
                                       "current state [Running] Health check failed"]).strip()}
    for address, node in zip(members, nodes):
        if not node.get("kubernetes_ready"):
            return {"all k8s nodes to report ready": f"some nodes are not ready: [{node['hostname']}]"}
    for address, node in zip(members, nodes):
        if node.get("cordoned"):
            return {"all k8s nodes to report schedulable": f"some nodes are not schedulable: [{node['hostname']}]"}
    return {}


# Seconds between two rounds of checks while `health` waits (talosctl retries every second or so).
HEALTH_POLL = 0.2


def cmd_health(parsed: Parsed) -> int:
    session = Session(parsed, insecure=False)
    with_hang(session)
    deadline = time.monotonic() + parsed["wait-timeout"]
    while True:
        with fakestate.locked_state() as state:
            session.connect(state)
            address = single_node(session, "health")
            error = session.node_error(state, address)
            if error:
                raise TalosError(error)
            controlplanes = list(parsed["control-plane-nodes"])
            if parsed["init-node"]:
                controlplanes.append(parsed["init-node"])
            workers = list(parsed["worker-nodes"])
            if not controlplanes and not workers:
                configured = [n for n in state["nodes"] if n.get("config_hash")]
                controlplanes = [n["ip"] for n in configured if n["role"] == "controlplane"]
                workers = [n["ip"] for n in configured if n["role"] == "worker"]
            problems = health_problems(state, controlplanes, workers)
            pending = [n["pending"]["at"] for n in state["nodes"] if n.get("pending")]
        remaining = deadline - time.monotonic()
        # As the real command, poll until the checks pass or --wait-timeout is over.
        if problems and remaining > 0:
            wake = min(pending) - fakestate.now() + 0.01 if pending else HEALTH_POLL
            time.sleep(min(max(0.0, wake), HEALTH_POLL, remaining))
            continue
        break
    sys.stderr.write(f"discovered nodes: {go_quoted_list(controlplanes + workers)}\n")
    for check in HEALTH_CHECKS:
        if check in problems:
            sys.stderr.write(f"waiting for {check}: {problems[check]}\n")
            raise TalosError("rpc error: code = DeadlineExceeded desc = context deadline exceeded")
        sys.stderr.write(f"waiting for {check}: ...\nwaiting for {check}: OK\n")
    return 0


def go_quoted_list(items: list[str]) -> str:
    return "[" + " ".join(json.dumps(item) for item in items) + "]"


def cmd_etcd_members(parsed: Parsed) -> int:
    session = Session(parsed, insecure=False)
    with_hang(session)
    rows: list[list[str]] = []
    errors: list[str] = []
    with fakestate.locked_state() as state:
        session.connect(state, "error getting members: ")
        for address in session.targets():
            node = fakestate.find_node(state, address)
            error = session.node_error(state, address) or etcd_error(state, node, "member list")
            if error:
                errors.append(f"{address}: {error}")
                continue
            for member in fakestate.etcd_cluster_members(state, node) or []:
                rows.append([address, member["id"], member["hostname"], f"https://{member['ip']}:2380",
                             f"https://{member['ip']}:2379", "true" if member.get("learner") else "false"])
    if errors and not rows:
        raise TalosError("error getting members: " + multierror(errors))
    if errors:
        sys.stderr.write("WARNING: " + multierror(errors))
    if rows:
        sys.stdout.write(tabwriter([["NODE", "ID", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER"], *rows]))
    return 0


def etcd_error(state: dict, node: dict, api: str) -> str | None:
    """Why the etcd API `api` ("member list", "etcd status") fails on a reachable node, or None."""
    if node["role"] != "controlplane":
        return f"rpc error: code = Unimplemented desc = {api} is only available on control plane nodes"
    if fakestate.etcd_cluster_members(state, node) is None:
        # etcd is not running on this node (never bootstrapped or joined, or still joining with
        # an empty data directory): the local client times out.
        action = "query etcd status" if api == "etcd status" else "get etcd members"
        return f"rpc error: code = Unknown desc = failed to {action}: context deadline exceeded"
    return None


def cmd_etcd_status(parsed: Parsed) -> int:
    session = Session(parsed, insecure=False)
    with_hang(session)
    rows: list[list[str]] = []
    errors: list[str] = []
    with fakestate.locked_state() as state:
        session.connect(state, "error getting status: ")
        members = state["etcd"]["members"]
        unhealthy = any((fakestate.find_node(state, m["hostname"]) or {}).get("health_fail") for m in members)
        leader = "0000000000000000" if unhealthy or not members else members[0]["id"]
        for address in session.targets():
            node = fakestate.find_node(state, address)
            error = session.node_error(state, address) or etcd_error(state, node, "etcd status")
            if error:
                errors.append(f"{address}: {error}")
                continue
            member = next(m for m in fakestate.etcd_cluster_members(state, node) or [] if m["hostname"] == node["hostname"])
            problems = "etcdserver: no leader" if unhealthy else ""
            raft_index = 1000 + 10 * len(members)
            rows.append([address, member["id"], humanize_bytes(20971520), f"{humanize_bytes(10485760)} (50.00%)",
                         leader, str(raft_index), "2", str(raft_index), "false", "3.6.0", "3.6.0", problems])
    if errors and not rows:
        raise TalosError("error getting status: " + multierror(errors))
    if errors:
        sys.stderr.write("WARNING: " + multierror(errors))
    header = ["NODE", "MEMBER", "DB SIZE", "IN USE", "LEADER", "RAFT INDEX", "RAFT TERM", "RAFT APPLIED INDEX",
              "LEARNER", "PROTOCOL", "STORAGE", "ERRORS"]
    sys.stdout.write(tabwriter([header, *rows]))
    return 0


def tracker_line(nodes: list[str], status: dict[str, str]) -> str:
    lines = [f"watching nodes: [{' '.join(nodes)}]"]
    lines += [f"    * {node}: {status[node]}" for node in sorted(status)]
    return "\n".join(lines) + "\n"


WAIT_POLL = 0.2


def wait_for_nodes(nodes: list[str], timeout: float, done) -> list[str]:
    """Poll the state until `done(state, node)` holds for every node; returns the nodes that timed out."""
    deadline = time.monotonic() + timeout
    waiting = list(nodes)
    while waiting:
        state = fakestate.snapshot()
        waiting = [address for address in waiting if not done(state, address)]
        if not waiting:
            break
        pending = [n["pending"]["at"] for a in waiting if (n := fakestate.find_node(state, a)) and n.get("pending")]
        left = deadline - time.monotonic()
        if left <= 0 or not pending:
            return waiting
        # Looks again at least every WAIT_POLL seconds: the real client follows the node's events,
        # so a transition that comes sooner than scheduled (a test moving it) is seen.
        time.sleep(max(0.01, min(min(pending) - fakestate.now() + 0.01, left, WAIT_POLL)))
    return []


def upgrade_refusal(state: dict, node: dict, force: bool) -> str | None:
    """Talos refuses a control-plane upgrade that would put etcd at risk (unless --force)."""
    if force or node["role"] != "controlplane" or not state["etcd"].get("bootstrapped"):
        return None
    members = state["etcd"]["members"]
    if len(members) == 2:
        return (f"rpc error: code = Unknown desc = error validating etcd for upgrade: etcd member count({len(members)}) "
                "is insufficient to maintain quorum if upgrade commences")
    for member in members:
        peer = fakestate.find_node(state, member["hostname"])
        if peer is None or peer["stage"] != "running" or peer.get("unreachable"):
            return (f"rpc error: code = Unknown desc = error validating etcd for upgrade: etcd member {member['id']} "
                    "is not started, all members must be running to perform an upgrade")
        if peer.get("health_fail"):
            return (f"rpc error: code = Unknown desc = error validating etcd for upgrade: etcd member {member['id']} "
                    "is not healthy; all members must be healthy to perform an upgrade: context deadline exceeded")
    return None


def cmd_upgrade(parsed: Parsed) -> int:
    wait = parsed["wait"] or parsed["debug"]
    if wait and parsed["insecure"]:
        raise TalosError("cannot use --wait and --insecure together")
    if parsed["reboot-mode"] not in ("default", "powercycle"):
        raise TalosError(f"invalid reboot mode: {parsed['reboot-mode']}")
    session = Session(parsed, insecure=parsed["insecure"])
    with_hang(session)
    image = parsed["image"]
    started: dict[str, str] = {}
    errors: dict[str, str] = {}
    with fakestate.locked_state() as state:
        if "image" not in parsed.changed:
            image = f"ghcr.io/siderolabs/installer:{fakestate.tool_version(state, 'talosctl')}"
        session.connect(state, "" if wait else "error performing upgrade: ")
        targets = session.targets()
        if not session.insecure:
            server_version_warnings(state, targets)
        for address in targets:
            node = fakestate.find_node(state, address)
            error = session.node_error(state, address)
            if error is None and session.insecure:
                error = MAINTENANCE_ONLY_ADMIN
            if error is None and image in state.get("cluster", {}).get("bad_images", []):
                error = (f'rpc error: code = Unknown desc = error validating installer image "{image}": '
                         f'failed to pull image "{image}": not found')
            if error is None:
                error = upgrade_refusal(state, node, parsed["force"] or parsed["preserve"])
            if error:
                errors[address] = error
                continue
            seconds = node.get("upgrade_seconds")
            seconds = fakestate.timing(state, "reboot_seconds") if seconds is None else float(seconds)
            updates = {"cordoned": False, **installer_facts(image)}
            if node.get("staged_config"):
                updates.update({"config": node["staged_config"], "config_hash":
                                fakestate.sha256_text(node["staged_config"]), "staged_config": None})
            node.update({"stage": "rebooting", "cordoned": True})
            node["pending"] = {"at": fakestate.now() + seconds, "stage": "running", "set": updates, "reboot": True}
            node["upgrade_count"] = node.get("upgrade_count", 0) + 1
            started[address] = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S.%f %z %Z")
    if not wait:
        if errors and not started:
            body = next(iter(errors.values())) if session.insecure else \
                multierror([f"{a}: {e}" for a, e in errors.items()])
            raise TalosError(f"error performing upgrade: {body}")
        if errors:
            sys.stderr.write("WARNING: " + multierror([f"{a}: {e}" for a, e in errors.items()]))
        rows = [["NODE", "ACK", "STARTED"]] + [[a, "Upgrade request received", s, ""] for a, s in started.items()]
        sys.stdout.write(tabwriter(rows))
        return 0
    nodes = session.targets()
    status = {address: "waiting for actor ID" for address in nodes}
    sys.stderr.write(tracker_line(nodes, status))
    for address, error in errors.items():
        status[address] = error
    if errors:
        sys.stderr.write(tracker_line(nodes, status))
    for address in started:
        status[address] = "unavailable, retrying..."
    sys.stderr.write(tracker_line(nodes, status))

    def finished(state: dict, address: str) -> bool:
        node = fakestate.find_node(state, address)
        return bool(node) and node["stage"] == "running" and not node.get("pending")

    late = wait_for_nodes(list(started), parsed["timeout"], finished)
    for address in started:
        status[address] = "context deadline exceeded" if address in late else "post check passed"
    sys.stderr.write(tracker_line(nodes, status))
    return 1 if errors or late else 0


def cmd_upgrade_k8s(parsed: Parsed) -> int:
    session = Session(parsed, insecure=False)
    with_hang(session)
    with fakestate.locked_state() as state:
        address = single_node(session, "upgrade-k8s")
        session.connect(state)
        error = session.node_error(state, address)
        if error:
            raise TalosError(error)
        if not fakestate.kube_api_up(state):
            raise TalosError("error detecting the lowest Kubernetes version error building kubernetes client: "
                             f'Get "https://{address}:6443/api/v1/nodes": dial tcp {address}:6443: connect: '
                             "connection refused")
        current = state["cluster"].get("kubernetes_version", "v1.35.0").lstrip("v")
        source = (parsed["from"] or current).lstrip("v")
        target = parsed["to"].lstrip("v")
        lines = []
        if not parsed["from"]:
            lines.append(f"automatically detected the lowest Kubernetes version {source}")
        from_parts, to_parts = parse_version(source), parse_version(target)
        if from_parts[:1] != to_parts[:1] or not 0 <= to_parts[1] - from_parts[1] <= 1:
            path = f"{from_parts[0]}.{from_parts[1]}->{to_parts[0]}.{to_parts[1]}"
            sys.stdout.write("".join(line + "\n" for line in lines))
            raise TalosError(f'unsupported upgrade path {path} (from "{source}" to "{target}")')
        controlplanes = [n["ip"] for n in state["nodes"] if n["role"] == "controlplane" and n.get("config_hash")]
        workers = [n["ip"] for n in state["nodes"] if n["role"] == "worker" and n.get("config_hash")]
        lines.append(f"discovered controlplane nodes {go_quoted_list(controlplanes)}")
        if workers:
            lines.append(f"discovered worker nodes {go_quoted_list(workers)}")
        for service in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            lines.append(f'updating "{service}" to version "{target}"')
            for node in controlplanes:
                lines.append(f' > "{node}": starting update')
                lines.append(" > skipped in dry-run" if parsed["dry-run"] else f' < "{node}": successfully updated')
        lines.append(f'updating kube-proxy to version "{target}"')
        lines.append(f"updating kubelet to version \"{target}\"")
        for node in controlplanes + workers:
            lines.append(f' > "{node}": starting update')
            lines.append(" > skipped in dry-run" if parsed["dry-run"] else f' < "{node}": successfully updated')
        if not parsed["dry-run"]:
            state["cluster"]["kubernetes_version"] = "v" + target
            state["cluster"]["k8s_upgrade_count"] = state["cluster"].get("k8s_upgrade_count", 0) + 1
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_reset(parsed: Parsed) -> int:
    wait = parsed["wait"] or parsed["debug"]
    if wait and parsed["insecure"]:
        raise TalosError("cannot use --wait and --insecure together")
    wipe_mode = parsed["wipe-mode"]
    if wipe_mode not in ("all", "system-disk", "user-disks"):
        raise TalosError(f'invalid argument "{wipe_mode}" for "--wipe-mode" flag: possible options are: '
                         "all, system-disk, user-disks")
    session = Session(parsed, insecure=parsed["insecure"])
    with_hang(session)
    labels = [label.upper() for label in parsed["system-labels-to-wipe"]]
    wipes_state = wipe_mode != "user-disks" and (not labels or "STATE" in labels)
    wipes_etcd = wipe_mode != "user-disks" and (not labels or "EPHEMERAL" in labels)
    errors: dict[str, str] = {}
    reset: list[str] = []
    with fakestate.locked_state() as state:
        session.connect(state, "" if wait else "error executing reset: ")
        for address in session.targets():
            node = fakestate.find_node(state, address)
            error = session.node_error(state, address)
            if error is None and session.insecure:
                error = MAINTENANCE_ONLY_ADMIN
            if error:
                errors[address] = error
                continue
            if parsed["graceful"]:
                # Graceful: cordon, drain and leave etcd first. Without it the member stays in
                # the cluster although its data is wiped (Talos's LeaveEtcd runs only if graceful).
                state["etcd"]["members"] = [m for m in state["etcd"]["members"] if m["hostname"] != node["hostname"]]
                node["cordoned"] = True
            updates: dict = {"cordoned": False}
            if wipes_etcd:
                updates["etcd_data"] = None
            if wipes_state:
                updates.update({"config": None, "config_hash": None, "staged_config": None})
            after = "maintenance" if wipes_state else "running"
            if not parsed["reboot"]:
                # Without --reboot the machine shuts down: it stays off until a test powers it on.
                updates["powered_off"] = True
            node["stage"] = "resetting"
            node["pending"] = {"at": fakestate.now() + fakestate.timing(state, "reboot_seconds"), "stage": after,
                               "set": updates, "reboot": True}
            node["reset_count"] = node.get("reset_count", 0) + 1
            node["last_reset"] = {"graceful": parsed["graceful"], "reboot": parsed["reboot"], "labels": labels,
                                  "wipe_mode": wipe_mode}
            reset.append(address)
        fakestate.refresh_derived(state)
    if not wait:
        if errors:
            body = next(iter(errors.values())) if session.insecure else \
                multierror([f"{a}: {e}" for a, e in errors.items()])
            raise TalosError(f"error executing reset: {body}")
        return 0
    nodes = session.targets()
    status = {address: errors.get(address, "waiting for actor ID") for address in nodes}
    sys.stderr.write(tracker_line(nodes, status))

    def finished(state: dict, address: str) -> bool:
        node = fakestate.find_node(state, address)
        return bool(node) and not node.get("pending")

    late = wait_for_nodes(reset, parsed["timeout"], finished)
    for address in reset:
        status[address] = "context deadline exceeded" if address in late else (
            "post check passed" if parsed["reboot"] else "events check condition met")
    sys.stderr.write(tracker_line(nodes, status))
    return 1 if errors or late else 0


BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def cmd_read(parsed: Parsed) -> int:
    """`talosctl read <path>`: only the boot ID exists in the fake (talosctl's own upgrade and
    reboot tracking reads it to tell whether a node rebooted)."""
    session = Session(parsed, insecure=False)
    with_hang(session)
    with fakestate.locked_state() as state:
        address = single_node(session, "read")
        session.connect(state, "error reading file: ")
        error = session.node_error(state, address)
        if error is None and parsed.args[0] != BOOT_ID_PATH:
            error = f"rpc error: code = Unknown desc = open {parsed.args[0]}: no such file or directory"
        if error:
            raise TalosError(f"error reading file: {multierror([f'{address}: {error}'])}")
        boot_id = fakestate.find_node(state, address)["boot_id"]
    sys.stdout.write(boot_id + "\n")
    return 0


def cmd_config_info(parsed: Parsed) -> int:
    path = talosconfig_path(parsed)
    if not path.is_file():
        raise TalosError("no context is set")
    config = fakeyaml.load(path.read_text()) or {}
    name = parsed["context"] or config.get("context")
    if not name:
        raise TalosError("no context is set")
    if name not in (config.get("contexts") or {}):
        raise TalosError(f'context "{name}" is not defined')
    context = config["contexts"][name] or {}
    info = {"context": name, "nodes": list(context.get("nodes") or []),
            "endpoints": list(context.get("endpoints") or []), "roles": None, "certTTL": "", "certNotAfter": ""}
    output = parsed["output"]
    if output == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
    elif output == "yaml":
        sys.stdout.write(fakeyaml.dump(info))
    elif output == "text":
        nodes = ", ".join(info["nodes"]) or "not defined"
        endpoints = ", ".join(info["endpoints"]) or "not defined"
        sys.stdout.write(f"Current context:     {name}\nNodes:               {nodes}\n"
                         f"Endpoints:           {endpoints}\n")
    else:
        raise TalosError(f'unknown output format: "{output}"')
    return 0


# -- command tree ----------------------------------------------------------------------------------

def _global_flags() -> list[Flag]:
    return [
        Flag("talosconfig", help="The path to the Talos configuration file."),
        Flag("nodes", "strings", "n", help="target the specified nodes"),
        Flag("endpoints", "strings", "e", help="override default endpoints in Talos configuration"),
        Flag("cluster", "string", "c", help="Cluster to connect to if a proxy endpoint is used."),
        Flag("context", help="Context to be used in command"),
        Flag("siderov1-keys-dir", help="The path to the SideroV1 auth PGP keys directory."),
    ]


def _track_flags() -> list[Flag]:
    return [
        Flag("wait", "bool", default=True, help="wait for the operation to complete, tracking its progress."),
        Flag("debug", "bool", help="debug operation from kernel logs."),
        Flag("timeout", "duration", default=1800.0, help="time to wait for the operation is complete"),
    ]


def _talos(name: str, run, *, flags: list[Flag] | None = None, args=(0, 0), use: str = "",
           aliases: tuple[str, ...] = (), short_help: str = "") -> Command:
    return Command(name, use=use, aliases=aliases, flags=flags or [], persistent=_global_flags(), args=args,
                   run=run, short_help=short_help)


MODE_FLAG = Flag("mode", "string", "m", default="auto", help="apply config mode")


def build() -> Command:
    root = Command("talosctl", short_help="A CLI for out-of-band management of Kubernetes nodes created by Talos")
    root.add(
        _talos("apply-config", cmd_apply_config, use="apply-config", aliases=("apply",), args=(0, 1),
               short_help="Apply a new configuration to a node", flags=[
                   Flag("file", "string", "f", help="the filename of the updated configuration"),
                   Flag("insecure", "bool", "i", help="apply the config using the insecure maintenance service"),
                   Flag("dry-run", "bool", help="check how the config change will be applied in dry-run mode"),
                   Flag("cert-fingerprint", "strings", help="list of server certificate fingeprints to accept"),
                   Flag("config-patch", "array", "p", help="the list of config patches to apply"),
                   Flag("timeout", "duration", default=60.0, help="the config will be rolled back after timeout"),
                   MODE_FLAG]),
        _talos("get", cmd_get, use="get <type> [<id>]", aliases=("g",), args=(1, 2),
               short_help="Get a specific resource or list of resources", flags=[
                   Flag("namespace", help="resource namespace"),
                   Flag("output", "string", "o", default="table", help="output mode (json, table, yaml, jsonpath)"),
                   Flag("watch", "bool", "w", help="watch resource changes"),
                   Flag("insecure", "bool", "i", help="get resources using the insecure maintenance service")]),
        _talos("version", cmd_version, short_help="Prints the version", flags=[
            Flag("short", "bool", help="Print the short version"),
            Flag("client", "bool", help="Print client version only"),
            Flag("insecure", "bool", "i", help="use Talos maintenance mode API"),
            Flag("json", "bool", hidden=True)]),
        _talos("bootstrap", cmd_bootstrap, short_help="Bootstrap the etcd cluster on the specified node.", flags=[
            Flag("recover-from", help="recover etcd cluster from the snapshot"),
            Flag("recover-skip-hash-check", "bool", help="skip integrity check when recovering etcd")]),
        _talos("kubeconfig", cmd_kubeconfig, use="kubeconfig [local-path]", args=(0, 1),
               short_help="Download the admin kubeconfig from the node", flags=[
                   Flag("force", "bool", "f", help="Force overwrite of kubeconfig if already present"),
                   Flag("force-context-name", help="Force context name for kubeconfig merge"),
                   Flag("merge", "bool", "m", default=True, help="Merge with existing kubeconfig")]),
        _talos("health", cmd_health, short_help="Check cluster health", flags=[
            Flag("init-node", help="specify IPs of init node"),
            Flag("control-plane-nodes", "strings", help="specify IPs of control plane nodes"),
            Flag("worker-nodes", "strings", help="specify IPs of worker nodes"),
            Flag("wait-timeout", "duration", default=1200.0, help="timeout to wait for the cluster to be ready"),
            Flag("k8s-endpoint", help="use endpoint instead of kubeconfig default"),
            Flag("server", "bool", default=True, help="run server-side check"),
            Flag("run-e2e", "bool", help="run Kubernetes e2e test")]),
        Command("etcd", short_help="Manage etcd", persistent=_global_flags()).add(
            Command("members", run=cmd_etcd_members, args=(0, 0), short_help="Get the list of etcd cluster members"),
            Command("status", run=cmd_etcd_status, args=(0, 0), short_help="Get the status of etcd cluster member")),
        _talos("upgrade", cmd_upgrade, short_help="Upgrade Talos on the target node", flags=[
            Flag("image", "string", "i", default="ghcr.io/siderolabs/installer:v1.12.11",
                 help="the container image to use for performing the install"),
            Flag("reboot-mode", "string", "m", default="default", help="select the reboot mode during upgrade."),
            Flag("preserve", "bool", "p", hidden=True, help="preserve data"),
            Flag("stage", "bool", "s", help="stage the upgrade to perform it after a reboot"),
            Flag("force", "bool", "f", help="force the upgrade (skip checks on etcd health and members)"),
            Flag("insecure", "bool", help="upgrade using the insecure maintenance service"),
            *_track_flags()]),
        _talos("upgrade-k8s", cmd_upgrade_k8s, short_help="Upgrade Kubernetes control plane in the Talos cluster.",
               flags=[
                   Flag("from", help="the Kubernetes control plane version to upgrade from"),
                   Flag("to", default=DEFAULT_KUBERNETES_VERSION, help="the Kubernetes control plane version to "
                                                                      "upgrade to"),
                   Flag("endpoint", help="the cluster control plane endpoint"),
                   Flag("with-examples", "bool", default=True, help="patch all machine configs with examples"),
                   Flag("with-docs", "bool", default=True, help="patch all machine configs adding documentation"),
                   Flag("dry-run", "bool", help="skip the actual upgrade and show the upgrade plan instead"),
                   Flag("pre-pull-images", "bool", default=True, help="pre-pull images before upgrade"),
                   Flag("upgrade-kubelet", "bool", default=True, help="upgrade kubelet service"),
                   Flag("kubelet-image", default="ghcr.io/siderolabs/kubelet", help="kubelet image to use"),
                   Flag("apiserver-image", default="registry.k8s.io/kube-apiserver", help="kube-apiserver image"),
                   Flag("controller-manager-image", default="registry.k8s.io/kube-controller-manager",
                        help="kube-controller-manager image to use"),
                   Flag("scheduler-image", default="registry.k8s.io/kube-scheduler", help="kube-scheduler image"),
                   Flag("proxy-image", default="registry.k8s.io/kube-proxy", help="kube-proxy image to use")]),
        _talos("reset", cmd_reset, short_help="Reset a node", flags=[
            Flag("graceful", "bool", default=True, help="if true, attempt to cordon/drain node and leave etcd"),
            Flag("reboot", "bool", help="if true, reboot the node after resetting instead of shutting down"),
            Flag("insecure", "bool", help="reset using the insecure maintenance service"),
            Flag("wipe-mode", default="all", help="disk reset mode"),
            Flag("user-disks-to-wipe", "strings", help="if set, wipes defined devices in the list"),
            Flag("system-labels-to-wipe", "strings", help="if set, just wipe selected system disk partitions"),
            *_track_flags()]),
        _talos("read", cmd_read, use="read <path>", aliases=("cat",), args=(1, 1),
               short_help="Read a file on the machine"),
        Command("config", short_help="Manage the client configuration file (talosconfig)",
                persistent=_global_flags()).add(
            Command("info", run=cmd_config_info, args=(0, 0), short_help="Show information about the current context",
                    flags=[Flag("output", "string", "o", default="text",
                                help="output format (json|yaml|text). Default text.")])),
    )
    return root


def main(argv: list[str]) -> int:
    root = build()
    try:
        parsed = parse(root, argv)
    except CliError as error:
        command = error.command or root
        if str(error) == "help requested":
            sys.stdout.write(command.usage())
            return 0
        message = str(error)
        sys.stderr.write(message + "\n")
        if any(word in message for word in ("arg(s)", "flag", "command")):
            sys.stderr.write("\n" + command.usage() + "\n")
        return 1
    if parsed.command.run is None:
        sys.stdout.write(parsed.command.usage())
        return 0
    if parsed.command.name == "apply-config" and parsed["mode"] not in (
            "auto", "no-reboot", "reboot", "staged", "try", "interactive"):
        sys.stderr.write(f'invalid argument "{parsed["mode"]}" for "-m, --mode" flag: possible options are: '
                         "auto, no-reboot, reboot, staged, try\n\n" + parsed.command.usage() + "\n")
        return 1
    try:
        return parsed.command.run(parsed)
    except TalosError as error:
        message = str(error)
        sys.stderr.write(message if message.endswith("\n") else message + "\n")
        return 1


if __name__ == "__main__":  # pragma: no cover - the executable in bin/ is the entry point
    sys.exit(fakestate.run_tool("talosctl", main, sys.argv[1:]))
