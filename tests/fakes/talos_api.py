"""The Talos API as the fake talosctl sees it: which calls a node answers, and how they fail.

Error texts are those talosctl v1.12 prints for the gRPC status it receives: a node in maintenance
mode serves a self-signed certificate (secure calls fail to verify it), a configured node demands a
client certificate (maintenance-mode calls fail), a node that is installing, rebooting or off does
not accept connections. Also here: the talosconfig lookup (--talosconfig, $TALOSCONFIG,
~/.talos/config) and what a node learns from a machine config.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import fakestate
import fakeyaml
from fakecli import Parsed

API_PORT = 50000

UNAVAILABLE = 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: ' \
              'dial tcp {address}:{port}: connect: {reason}"'
UNKNOWN_AUTHORITY = ('rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake '
                     'failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"')
CERTIFICATE_REQUIRED = ('rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: '
                        'remote error: tls: certificate required"')
NOT_AUTHORIZED = "rpc error: code = PermissionDenied desc = not authorized"
MAINTENANCE_ONLY_ADMIN = "rpc error: code = Unimplemented desc = API is not implemented in maintenance mode"


class TalosError(Exception):
    """Printed on stderr as the command's error; exit code 1."""


def installer_facts(image: str) -> dict:
    """Talos version and schematic ID carried by an installer image reference."""
    facts: dict = {"installer_image": image}
    reference, _, tag = image.rpartition(":")
    if not reference or "/" in tag:
        reference, tag = image, ""
    if re.match(r"^v\d+\.\d+\.\d+", tag):
        facts["talos_version"] = tag
    parts = reference.split("/")
    if parts[0] == "factory.talos.dev" and len(parts) >= 3 and re.fullmatch(r"[0-9a-f]{64}", parts[-1]):
        facts["schematic"] = parts[-1]
    return facts


def config_facts(text: str) -> dict:
    """What the node learns from a machine config; raises TalosError when it cannot be parsed."""
    try:
        documents = fakeyaml.load_all(text)
    except fakeyaml.YamlError:
        # fakeyaml reads a subset of YAML: a config it cannot read may still be valid, so fall back
        # to scanning for the few keys the fake needs rather than rejecting it.
        documents = [scanned_config(text)]
    main = next((d for d in documents if isinstance(d, dict) and d.get("version") == "v1alpha1"), None)
    if main is None or not isinstance(main.get("machine"), dict):
        raise TalosError("rpc error: code = Unknown desc = failed to parse config: "
                         "the config doesn't contain a v1alpha1 machine configuration")
    machine = main["machine"]
    facts: dict = {}
    role = machine.get("type")
    if role in ("controlplane", "init"):
        facts["role"] = "controlplane"
    elif role == "worker":
        facts["role"] = "worker"
    image = (machine.get("install") or {}).get("image")
    if isinstance(image, str) and image:
        facts.update(installer_facts(image))
    hostname = (machine.get("network") or {}).get("hostname")
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "HostnameConfig" and document.get("hostname"):
            hostname = document["hostname"]
    if isinstance(hostname, str) and hostname:
        facts["hostname"] = hostname
    cluster = main.get("cluster") or {}
    facts["cluster_name"] = cluster.get("clusterName")
    facts["cluster_endpoint"] = (cluster.get("controlPlane") or {}).get("endpoint")
    return facts


def scanned_config(text: str) -> dict:
    """The keys config_facts needs, found line by line (used when the YAML reader gives up)."""
    def first(pattern: str) -> str | None:
        match = re.search(pattern, text, re.MULTILINE)
        return match.group(1).strip().strip("'\"") if match else None
    if not re.search(r"^version:\s*v1alpha1\s*$", text, re.MULTILINE):
        return {}
    return {
        "version": "v1alpha1",
        "machine": {"type": first(r"^\s+type:\s*(controlplane|worker|init)\s*$"),
                    "install": {"image": first(r"^\s+image:\s*(\S*installer\S*)\s*$")},
                    "network": {"hostname": first(r"^\s+hostname:\s*(\S+)\s*$")}},
        "cluster": {"clusterName": first(r"^\s+clusterName:\s*(\S+)\s*$"),
                    "controlPlane": {"endpoint": first(r"^\s+endpoint:\s*(https://\S+)\s*$")}},
    }


# -- talosconfig and connections ---------------------------------------------------------------

def talosconfig_path(parsed: Parsed) -> Path:
    explicit = parsed["talosconfig"] or os.environ.get("TALOSCONFIG")
    if explicit:
        return Path(explicit)
    return Path.home() / ".talos" / "config"


def talosconfig_context(parsed: Parsed) -> dict | None:
    """The selected context of the talosconfig, or None when there is none."""
    path = talosconfig_path(parsed)
    if not path.is_file():
        return None
    try:
        config = fakeyaml.load(path.read_text()) or {}
    except fakeyaml.YamlError as error:
        raise TalosError(f'failed to open config file "{path}": {error}') from None
    name = parsed["context"] or config.get("context")
    contexts = config.get("contexts") or {}
    if not name or name not in contexts:
        return None
    context = dict(contexts[name] or {})
    context["name"] = name
    return context


def dial_error(node: dict | None, address: str, *, from_client: bool = True) -> str | None:
    """Why a TCP/TLS connection to `address` fails at transport level, or None. `from_client`:
    this machine dials it (as an endpoint, or in maintenance mode), rather than apid on an endpoint
    proxying to it over the cluster network, which reaches a `client_unreachable` node."""
    if node is None or node.get("unreachable") or node.get("powered_off") \
            or (from_client and node.get("client_unreachable")):
        return UNAVAILABLE.format(address=address, port=API_PORT, reason="no route to host")
    if node["stage"] in ("installing", "rebooting", "resetting", "shutting down", "booting"):
        return UNAVAILABLE.format(address=address, port=API_PORT, reason="connection refused")
    return None


def secure_error(node: dict | None, address: str, *, from_client: bool = True) -> str | None:
    """Why a mutual-TLS call to a node fails, or None (maintenance nodes cannot be verified)."""
    error = dial_error(node, address, from_client=from_client)
    if error:
        return error
    if node["stage"] == "maintenance" or node.get("foreign_ca"):
        # A maintenance node's certificate is self-signed; one configured by another cluster is
        # signed by that cluster's CA: either way this talosconfig's CA does not verify it.
        return UNKNOWN_AUTHORITY
    return None


def insecure_error(node: dict | None, address: str) -> str | None:
    """Why a maintenance-service call fails, or None (configured nodes demand a client cert)."""
    error = dial_error(node, address)
    if error:
        return error
    if node["stage"] != "maintenance":
        return CERTIFICATE_REQUIRED
    return None


def endpoint_error(state: dict, endpoint: str, has_credentials: bool) -> str | None:
    """Why apid on an endpoint cannot be used; an address that is no node is taken to be a VIP."""
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint
    host = host.removeprefix("https://")
    node = fakestate.find_node(state, host)
    if node is None:
        serving = any(n["role"] == "controlplane" and secure_error(n, n["ip"]) is None for n in state["nodes"])
        if not serving:
            return UNAVAILABLE.format(address=host, port=API_PORT, reason="connection refused")
        return None if has_credentials else CERTIFICATE_REQUIRED
    error = secure_error(node, host)
    if error is None and not has_credentials:
        return CERTIFICATE_REQUIRED
    return error


class Session:
    """Targets of one command: which nodes, through which endpoint, secure or not."""

    def __init__(self, parsed: Parsed, *, insecure: bool):
        self.parsed = parsed
        self.insecure = insecure
        self.nodes: list[str] = list(parsed["nodes"])
        self.endpoints: list[str] = list(parsed["endpoints"])
        self.context: dict | None = None
        if not insecure:
            self.context = talosconfig_context(parsed)
            if not self.endpoints and self.context:
                self.endpoints = list(self.context.get("endpoints") or [])
            if not self.nodes and self.context:
                self.nodes = list(self.context.get("nodes") or [])

    def check_client(self) -> None:
        """The errors talosctl raises before it sends a request."""
        if self.insecure:
            if not self.nodes:
                raise TalosError("failed to determine endpoints")
            return
        if not self.endpoints:
            raise TalosError("error constructing client: failed to determine endpoints")
        if not self.nodes:
            if self.context is None:
                raise TalosError("failed to resolve config context")
            raise TalosError("nodes are not set for the command: please use `--nodes` flag or configuration file "
                             "to set the nodes to run the command against")

    def connect(self, state: dict, prefix: str = "") -> None:
        """Fail like the gRPC connection would (the first usable endpoint wins); `prefix` is what the
        command puts in front of an RPC error."""
        if self.insecure:
            return
        errors = [endpoint_error(state, endpoint, self.context is not None) for endpoint in self.endpoints]
        if all(errors):
            raise TalosError(prefix + errors[0])

    def targets(self) -> list[str]:
        # The maintenance client connects to the nodes as endpoints and only ever uses the first.
        return self.nodes[:1] if self.insecure else self.nodes

    def node_error(self, state: dict, address: str) -> str | None:
        """Why the call fails on the target `address`. An authenticated call reaches it through the
        endpoint `connect` chose (apid proxies over the cluster network), so only a target that is
        itself the only endpoint must be reachable from this machine: `connect` checked that."""
        node = fakestate.find_node(state, address)
        return insecure_error(node, address) if self.insecure else secure_error(node, address, from_client=False)


def hang_if_asked(addresses: list[str]) -> None:
    """Sleep (without holding the state lock) when a target node is set to hang."""
    state = fakestate.snapshot()
    longest = 0.0
    for address in addresses:
        node = fakestate.find_node(state, address)
        if node and node.get("hang"):
            longest = max(longest, 3600.0 if node["hang"] is True else float(node["hang"]))
    if longest:
        time.sleep(longest)


def server_version_warnings(state: dict, addresses: list[str]) -> None:
    """helpers.ClientVersionCheck: warn when a server runs an older Talos than this client."""
    client = parse_version(fakestate.tool_version(state, "talosctl"))
    warnings = []
    for address in addresses:
        node = fakestate.find_node(state, address)
        if node and node["stage"] == "running" and parse_version(node["talos_version"]) < client:
            warnings.append(f"{address}: server version {node['talos_version'].lstrip('v')} is older than client "
                            f"version {fakestate.tool_version(state, 'talosctl').lstrip('v')}")
    if warnings:
        sys.stderr.write(f"WARNING: {', '.join(warnings)}\n")


def parse_version(text: str) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", text.split("-")[0])
    return tuple(int(n) for n in numbers[:3]) or (0,)


def with_hang(session: Session) -> None:
    session.check_client()
    hang_if_asked(session.targets())
