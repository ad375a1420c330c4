"""talosctl: argv builders and output parsers. Reads use `readonly=True`, so a dry run still sees
real state; every call that changes a node is only reported in a dry run.

In maintenance mode a node only answers `--insecure` calls; once configured it only answers
authenticated ones (with the talosconfig). `probe_stage` tries both to tell the two apart.

Authenticated calls normally go through the talosconfig's endpoints (the controllers), which proxy
to the target node. `direct=True` makes the node its own endpoint instead, so a worker can be asked
about itself while no controller is configured yet (during a bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CommandError
from ..run import CommandResult, Executor
from .output import json_stream, table

DEFAULT_TIMEOUT = 60.0
# Seconds a long-running talosctl (upgrade --wait, upgrade-k8s) gets after SIGINT/SIGTERM to stop
# its watch and close its connections; the operation itself continues on the node.
STOP_GRACE = 15.0
# `talosctl health` only reads: after SIGINT it has little to finish.
HEALTH_STOP_GRACE = 5.0


@dataclass(frozen=True)
class NodeStage:
    """What a node answered: `maintenance`, `running`, `booting`, ... or `unreachable`."""

    stage: str
    ready: bool = False
    detail: str = ""

    @property
    def reachable(self) -> bool:
        return self.stage != "unreachable"


class Talosctl:
    def __init__(self, ex: Executor, talosconfig: Path | None, *, timeout: float = DEFAULT_TIMEOUT):
        self.ex = ex
        self.talosconfig = talosconfig
        self.timeout = timeout

    def argv(self, *args: str, node: str | None = None, insecure: bool = False, direct: bool = False) -> list[str]:
        command = ["talosctl"]
        if self.talosconfig is not None and not insecure:
            command += ["--talosconfig", str(self.talosconfig)]
        command += list(args)
        if node is not None:
            command += ["--nodes", node]
            if insecure or direct:
                command += ["--endpoints", node]
        if insecure:
            command.append("--insecure")
        return command

    def _run(self, *args: str, node: str | None = None, insecure: bool = False, readonly: bool = True,
             timeout: float | None = None, check: bool = True, direct: bool = False,
             stop_grace: float | None = None) -> CommandResult:
        return self.ex.run(self.argv(*args, node=node, insecure=insecure, direct=direct), readonly=readonly,
                           timeout=timeout or self.timeout, check=check, stop_grace=stop_grace)

    # -- reads -------------------------------------------------------------------------------

    def get(self, resource: str, node: str, *, insecure: bool = False, timeout: float | None = None,
            direct: bool = False) -> list[dict[str, Any]]:
        result = self._run("get", resource, "--output", "json", node=node, insecure=insecure, timeout=timeout,
                           direct=direct)
        return json_stream(result.stdout, tool="talosctl")

    def probe_stage(self, node: str, *, timeout: float = 15, direct: bool = False,
                    maintenance: bool = True) -> NodeStage:
        """The machine stage, asking securely first and then (unless `maintenance` is False) in
        maintenance (insecure) mode."""
        errors = []
        for insecure in (False, True) if maintenance else (False,):
            if not insecure and self.talosconfig is None:
                continue
            try:
                statuses = self.get("machinestatus", node, insecure=insecure, timeout=timeout, direct=direct)
            except CommandError as error:
                errors.append(error.stderr_tail.splitlines()[-1] if error.stderr_tail else str(error))
                continue
            spec = statuses[0].get("spec", {}) if statuses else {}
            return NodeStage(str(spec.get("stage", "unknown")), bool(spec.get("status", {}).get("ready")))
        return NodeStage("unreachable", detail="; ".join(errors))

    def disks(self, node: str, *, insecure: bool = True) -> list[dict[str, Any]]:
        return [item.get("spec", {}) | {"id": item.get("metadata", {}).get("id")}
                for item in self.get("disks", node, insecure=insecure)]

    def server_version(self, node: str) -> str | None:
        """The Talos version the node runs (`Tag:` of the server), or None when it does not answer."""
        result = self._run("version", node=node, check=False)
        if not result.ok:
            return None
        server = result.stdout.split("Server:", 1)[-1]
        for line in server.splitlines():
            if line.strip().startswith("Tag:"):
                return line.split(":", 1)[1].strip()
        return None

    def schematic(self, node: str) -> str | None:
        """The Image Factory schematic the node was installed from (its `schematic` extension)."""
        for item in self.get("extensions", node):
            metadata = item.get("spec", {}).get("metadata", {})
            if metadata.get("name") == "schematic":
                return metadata.get("version")
        return None

    def boot_id(self, node: str) -> str | None:
        """The node's boot ID (changes with every reboot), or None when it does not answer; the
        way talosctl's own upgrade tracking tells whether a node rebooted."""
        result = self._run("read", "/proc/sys/kernel/random/boot_id", node=node, check=False, timeout=15)
        return (result.stdout.strip() or None) if result.ok else None

    def etcd_members(self, node: str, *, direct: bool = False, timeout: float | None = None) -> list[dict[str, str]]:
        return table(self._run("etcd", "members", node=node, direct=direct, timeout=timeout).stdout)

    def etcd_status(self, node: str) -> list[dict[str, str]]:
        return table(self._run("etcd", "status", node=node).stdout)

    def health(self, node: str, *, wait_timeout: str = "5m", timeout: float = 400,
               control_planes: Sequence[str] = (), workers: Sequence[str] = ()) -> CommandResult:
        """`talosctl health` through one controller; check `.ok` (it is not raised). With node lists,
        talosctl checks exactly those nodes instead of the ones cluster discovery reports."""
        args = ["health", "--wait-timeout", wait_timeout]
        if control_planes:
            args += ["--control-plane-nodes", ",".join(control_planes)]
        if workers:
            args += ["--worker-nodes", ",".join(workers)]
        # In its own process group like the long-running commands, so the wait shows progress.
        return self._run(*args, node=node, timeout=timeout, check=False, stop_grace=HEALTH_STOP_GRACE)

    # -- changes -----------------------------------------------------------------------------

    def apply_config(self, node: str, config_file: Path, *, insecure: bool = False, mode: str | None = None,
                     dry_run: bool = False) -> CommandResult:
        args = ["apply-config", "--file", str(config_file)]
        if mode:
            args += ["--mode", mode]
        if dry_run:
            args.append("--dry-run")
        return self._run(*args, node=node, insecure=insecure, readonly=dry_run)

    def bootstrap(self, node: str, *, direct: bool = False) -> CommandResult:
        """`talosctl bootstrap`; check `.ok`, and `already_bootstrapped(result)` when it is not."""
        return self._run("bootstrap", node=node, readonly=False, check=False, direct=direct)

    def kubeconfig(self, target: Path, node: str, *, direct: bool = False) -> CommandResult:
        """Write the admin kubeconfig to `target`, replacing the file: talosctl merges into an
        existing file by default, which would keep a previous cluster's contexts and credentials."""
        return self._run("kubeconfig", str(target), "--force", "--merge=false", node=node, readonly=False,
                         direct=direct)

    def upgrade(self, node: str, image: str, *, timeout: str = "10m", preserve: bool = False) -> CommandResult:
        args = ["upgrade", "--image", image, "--timeout", timeout, "--wait"]
        if preserve:
            args.append("--preserve")
        return self._run(*args, node=node, readonly=False, timeout=_seconds(timeout) + 60, stop_grace=STOP_GRACE)

    def upgrade_k8s(self, node: str, to: str, *, dry_run: bool = False) -> CommandResult:
        args = ["upgrade-k8s", "--to", to.lstrip("v")]
        if dry_run:
            args.append("--dry-run")
        return self._run(*args, node=node, readonly=dry_run, timeout=1800, stop_grace=STOP_GRACE)

    def reset(self, node: str, *, wipe_labels: tuple[str, ...] = (), graceful: bool = False,
              reboot: bool = True, direct: bool = False, wait: bool = False, timeout: str = "10m") -> CommandResult:
        """`talosctl reset`; with `wait`, talosctl tracks the reset until the node is back (or
        `timeout`), otherwise it returns once the node accepted the request."""
        args = ["reset", f"--graceful={str(graceful).lower()}", f"--wait={str(wait).lower()}"]
        if wait:
            args += ["--timeout", timeout]
        if reboot:
            args.append("--reboot")
        for label in wipe_labels:
            args += ["--system-labels-to-wipe", label]
        return self._run(*args, node=node, readonly=False, direct=direct,
                         timeout=_seconds(timeout) + 60 if wait else None, stop_grace=STOP_GRACE if wait else None)


def already_bootstrapped(result: CommandResult) -> bool:
    """Whether a failed `talosctl bootstrap` was refused because etcd already has data: Talos answers
    gRPC AlreadyExists ("etcd data directory is not empty"), so the cluster is bootstrapped."""
    return not result.ok and "code = AlreadyExists" in result.stderr


def requires_client_certificate(error_text: str) -> bool:
    """Whether a maintenance-mode (`--insecure`) call was refused because the node demands a client
    certificate: the node is configured, whether or not this talosconfig may talk to it."""
    return "tls: certificate required" in error_text


def untrusted_server(error_text: str) -> bool:
    """Whether an authenticated call failed because the node's certificate is not signed by the
    talosconfig's CA (a node in maintenance mode, or one configured by another cluster)."""
    return "certificate signed by unknown authority" in error_text


def last_error_line(text: str) -> str:
    """The last non-empty line of a tool's error output (the gRPC status, usually)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _seconds(duration: str) -> float:
    """Seconds of a Go duration like `10m` or `90s`."""
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]] if duration and duration[-1] in units else float(duration)
