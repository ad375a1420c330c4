"""Talos resources as `talosctl get` prints them (one `{"node", "metadata", "spec"}` object each).

Definitions (type, aliases, namespace, display type, owner, table columns) and spec fields follow
talos v1.12.11 `pkg/machinery/resources`; metadata follows cosi-project/runtime's YAML form. JSON is
written like Go's encoding/json with a 4-space indent (map keys sorted), YAML like go-yaml.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone

import fakestate
import fakeyaml
from fakecli import humanize_bytes, tabwriter
from talos_api import TalosError

# -- resource definitions (type, aliases, namespace, display type, owner, print columns) -------

RESOURCES = {
    "MachineConfigs.config.talos.dev": {
        "aliases": ["machineconfig", "machineconfigs", "mc"], "namespace": "config", "display": "MachineConfig",
        "owner": "", "columns": [], "sensitive": True,
    },
    "LinkStatuses.net.talos.dev": {
        "aliases": ["link", "links", "linkstatus", "linkstatuses"], "namespace": "network", "display": "LinkStatus",
        "owner": "network.LinkStatusController",
        "columns": [("ALIAS", "alias"), ("TYPE", "type"), ("KIND", "kind"), ("HW ADDR", "hardwareAddr"),
                    ("OPER STATE", "operationalState"), ("LINK STATE", "linkState")],
    },
    "Disks.block.talos.dev": {
        "aliases": ["disk", "disks"], "namespace": "runtime", "display": "Disk", "owner": "block.DisksController",
        "columns": [("SIZE", "pretty_size"), ("READ ONLY", "readonly"), ("TRANSPORT", "transport"),
                    ("ROTATIONAL", "rotational"), ("WWID", "wwid"), ("MODEL", "model"), ("SERIAL", "serial")],
    },
    "MachineStatuses.runtime.talos.dev": {
        "aliases": ["machinestatus", "machinestatuses", "ms"], "namespace": "runtime", "display": "MachineStatus",
        "owner": "runtime.MachineStatusController", "columns": [("STAGE", "stage"), ("READY", "status.ready")],
    },
    "Members.cluster.talos.dev": {
        "aliases": ["member", "members"], "namespace": "cluster", "display": "Member",
        "owner": "cluster.MemberController",
        "columns": [("HOSTNAME", "hostname"), ("MACHINE TYPE", "machineType"), ("OS", "operatingSystem"),
                    ("ADDRESSES", "addresses")],
    },
    "Versions.runtime.talos.dev": {
        "aliases": ["version", "versions"], "namespace": "runtime", "display": "Version",
        "owner": "runtime.VersionController", "columns": [("VERSION", "version")],
    },
    "ExtensionStatuses.runtime.talos.dev": {
        "aliases": ["extensions", "extensionstatus", "extensionstatuses"], "namespace": "runtime",
        "display": "ExtensionStatus", "owner": "runtime.ExtensionStatusController",
        "columns": [("NAME", "metadata.name"), ("VERSION", "metadata.version")],
    },
}


def resolve_type(name: str) -> str:
    for type_name, definition in RESOURCES.items():
        if name.lower() == type_name.lower() or name.lower() in definition["aliases"]:
            return type_name
    raise TalosError(f'rpc error: code = NotFound desc = resource "{name}" is not registered')


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- resources ---------------------------------------------------------------------------------

def node_resources(state: dict, node: dict, type_name: str) -> list[tuple[str, dict]]:
    """(id, spec) pairs of one resource type on one node."""
    if type_name == "MachineConfigs.config.talos.dev":
        return [("v1alpha1", node["config"])] if node.get("config") else []
    if type_name == "LinkStatuses.net.talos.dev":
        return [(link["id"], link_spec(node, index, link)) for index, link in enumerate(node_links(node))]
    if type_name == "Disks.block.talos.dev":
        return [(disk["id"], disk_spec(disk)) for disk in node_disks(node)]
    if type_name == "MachineStatuses.runtime.talos.dev":
        return [("machine", machine_status_spec(state, node))]
    if type_name == "Versions.runtime.talos.dev":
        return [("version", {"version": node["talos_version"]})]
    if type_name == "Members.cluster.talos.dev":
        if node["stage"] == "maintenance":
            return []
        members = [n for n in state["nodes"] if n["stage"] == "running" and n.get("config_hash")]
        return [(n["hostname"], member_spec(n)) for n in members]
    if type_name == "ExtensionStatuses.runtime.talos.dev":
        return [(str(index), spec) for index, spec in enumerate(extension_specs(node))]
    return []


def node_links(node: dict) -> list[dict]:
    return node.get("links") or [{"id": "lo", "kind": "", "type": "loopback"},
                                 {"id": "eth0", "kind": "", "type": "ether"}]


def mac_for(node: dict, index: int) -> str:
    octets = [int(part) for part in node["ip"].split(".")[-2:]] if "." in node["ip"] else [0, 0]
    return "bc:24:11:{:02x}:{:02x}:{:02x}".format(index, *[o % 256 for o in octets])


def link_spec(node: dict, index: int, link: dict) -> dict:
    loopback = link.get("type") == "loopback"
    address = "00:00:00:00:00:00" if loopback else link.get("hardware_addr", mac_for(node, index))
    return {
        "index": index + 1, "type": link.get("type", "ether"), "linkIndex": 0,
        "flags": "UP,LOOPBACK,RUNNING" if loopback else "UP,BROADCAST,RUNNING,MULTICAST,LOWER_UP",
        "hardwareAddr": address, "permanentAddr": address,
        "broadcastAddr": "00:00:00:00:00:00" if loopback else "ff:ff:ff:ff:ff:ff",
        "mtu": 65536 if loopback else 1500, "queueDisc": "noqueue" if loopback else "fq_codel",
        "operationalState": "unknown" if loopback else "up", "kind": link.get("kind", ""), "slaveKind": "",
        "linkState": not loopback, "port": "Other", "duplex": "Unknown",
    }


def node_disks(node: dict) -> list[dict]:
    return node.get("disks") or [{"id": "sda", "dev_path": "/dev/sda", "size": 107374182400,
                                  "model": "QEMU HARDDISK", "serial": "", "transport": "virtio"}]


def disk_spec(disk: dict) -> dict:
    spec = {
        "dev_path": disk.get("dev_path", f"/dev/{disk['id']}"), "size": disk.get("size", 0),
        "pretty_size": humanize_bytes(disk.get("size", 0)), "io_size": 512, "sector_size": 512,
        "readonly": bool(disk.get("readonly", False)), "cdrom": bool(disk.get("cdrom", False)),
    }
    for key in ("model", "serial", "wwid", "transport"):
        if disk.get(key):
            spec[key] = disk[key]
    if disk.get("rotational"):
        spec["rotational"] = True
    spec["symlinks"] = [f"/dev/disk/by-path/{disk['id']}"]
    return spec


def machine_status_spec(state: dict, node: dict) -> dict:
    unmet = []
    if node["stage"] == "running" and not node.get("config_hash"):
        unmet.append({"name": "config", "reason": "machine config is not applied"})
    if node["stage"] == "maintenance":
        unmet.append({"name": "network", "reason": "waiting for machine config"})
    if node.get("health_fail"):
        unmet.append({"name": "etcd" if node["role"] == "controlplane" else "kubelet",
                      "reason": "service is not healthy"})
    ready = node["stage"] == "running" and not unmet
    return {"stage": node["stage"], "status": {"ready": ready, "unmetConditions": unmet}}


def member_spec(node: dict) -> dict:
    return {
        "nodeId": fakestate.sha256_text("node-id/" + node["hostname"])[:43],
        "addresses": [node["ip"]], "hostname": node["hostname"], "machineType": node["role"],
        "operatingSystem": f"Talos ({node['talos_version']})",
    }


def extension_specs(node: dict) -> list[dict]:
    specs = []
    for name in node.get("extensions", []):
        specs.append({"image": f"{name.replace('/', '-')}.sqsh", "metadata": {
            "name": name.split("/")[-1], "version": "", "author": "Sidero Labs", "description": "",
            "compatibility": {"talos": {"version": f">= {node['talos_version']}"}}}})
    if node.get("schematic"):
        specs.append({"image": "", "metadata": {
            "name": "schematic", "version": node["schematic"], "author": "Image Factory",
            "description": "This extension represents the Image Factory schematic.",
            "compatibility": {"talos": {"version": ""}}}})
    return specs


def resource_document(label: str, node: dict, type_name: str, resource_id: str, spec: object) -> dict:
    definition = RESOURCES[type_name]
    stamp = rfc3339(node.get("created_at", 0))
    return {
        "node": label,
        "metadata": {
            "namespace": definition["namespace"], "type": type_name, "id": resource_id, "version": 1,
            "owner": definition["owner"], "phase": "running", "created": stamp, "updated": stamp,
        },
        "spec": spec,
    }


def go_json(value: object) -> str:
    """encoding/json with SetIndent("", "    "): maps sorted, HTML characters escaped."""
    text = json.dumps(value, indent=4, sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def jsonpath_lookup(document: dict, expression: str) -> list:
    """The `{.a.b}` subset of kubectl JSONPath that talosctl accepts for -o jsonpath."""
    match = re.fullmatch(r"\{\.?([^}]*)\}", expression.strip())
    if not match:
        raise TalosError(f"error parsing jsonpath: unrecognized expression {expression}")
    value: object = json.loads(json.dumps(document))
    for part in [p for p in match.group(1).split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return []
    return [value]


def column_value(spec: dict, path: str) -> str:
    value: object = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)


class ResourceWriter:
    def __init__(self, output: str, type_name: str):
        self.output = output
        self.type_name = type_name
        self.rows: list[list[str]] = []
        self.count = 0
        if output not in ("table", "json", "yaml") and not output.startswith("jsonpath="):
            raise TalosError(f"output format {output!r} is not supported")

    def write(self, document: dict) -> None:
        self.count += 1
        if self.output == "json":
            sys.stdout.write(go_json(document))
        elif self.output == "yaml":
            if self.count > 1:
                sys.stdout.write("---\n")
            sys.stdout.write(fakeyaml.dump(document))
        elif self.output.startswith("jsonpath="):
            for value in jsonpath_lookup(document, self.output[len("jsonpath="):]):
                if isinstance(value, (dict, list)):
                    sys.stdout.write(json.dumps(value, indent=4) + "\n")
                elif isinstance(value, bool):
                    sys.stdout.write(("true" if value else "false") + "\n")
                else:
                    sys.stdout.write(f"{value}\n")
        else:
            definition = RESOURCES[self.type_name]
            metadata = document["metadata"]
            spec = document["spec"] if isinstance(document["spec"], dict) else {}
            self.rows.append([document["node"], metadata["namespace"], definition["display"], metadata["id"],
                              str(metadata["version"]), *[column_value(spec, path) for _, path in
                                                          definition["columns"]]])

    def flush(self) -> None:
        if self.output != "table":
            return
        header = ["NODE", "NAMESPACE", "TYPE", "ID", "VERSION", *[name for name, _ in
                                                                    RESOURCES[self.type_name]["columns"]]]
        sys.stdout.write(tabwriter([header, *self.rows]))
