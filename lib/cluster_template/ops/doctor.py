"""`inv doctor`: are the operator tools installed at the pinned versions, and are the local files in place?"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClusterTemplateError, ToolNotFound
from ..run import Executor
from ..tools.sops import sops_command


@dataclass(frozen=True)
class Tool:
    mise_id: str  # the key in .mise.toml [tools]
    command: str
    version_args: tuple[str, ...]
    purpose: str


TOOLS = (
    Tool("aqua:siderolabs/talos", "talosctl", ("version", "--client", "--short"), "Talos API client"),
    Tool("aqua:kubernetes/kubernetes/kubectl", "kubectl", ("version", "--client"), "Kubernetes client, kustomize builds"),
    Tool("aqua:fluxcd/flux2", "flux", ("version", "--client"), "Flux CLI"),
    Tool("aqua:opentofu/opentofu", "tofu", ("version",), "OpenTofu (infra.*)"),
    Tool("aqua:getsops/sops", "sops", ("--version",), "secret encryption"),
    Tool("aqua:FiloSottile/age", "age", ("--version",), "age encryption (keys are made in Python)"),
    Tool("aqua:helm/helm", "helm", ("version", "--short"), "Helm, used by helmfile"),
    Tool("aqua:helmfile/helmfile", "helmfile", ("--version",), "bootstrap releases"),
    Tool("aqua:cilium/cilium-cli", "cilium", ("version", "--client"), "Cilium diagnostics"),
    Tool("aqua:kubernetes-sigs/kustomize", "kustomize", ("version",), "standalone kustomize"),
    Tool("aqua:cloudflare/cloudflared", "cloudflared", ("--version",), "Cloudflare tunnel setup"),
)

_VERSION = re.compile(r"v?(\d+\.\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class ToolStatus:
    command: str
    purpose: str
    pinned: str | None
    found: str | None  # version, or None when the tool is missing
    path: str | None

    @property
    def ok(self) -> bool:
        return self.found is not None and (self.pinned is None or self.found == self.pinned)

    @property
    def problem(self) -> str:
        if self.found is None:
            return "missing: run `mise install`"
        if self.pinned is not None and self.found != self.pinned:
            return f"version {self.found} differs from the pin {self.pinned}"
        return ""


@dataclass(frozen=True)
class FileStatus:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class DoctorReport:
    tools: list[ToolStatus]
    files: list[FileStatus]

    @property
    def ok(self) -> bool:
        return all(tool.ok for tool in self.tools) and all(f.ok for f in self.files)


def pinned_versions(mise_file: Path) -> dict[str, str]:
    if not mise_file.is_file():
        return {}
    tools = tomllib.loads(mise_file.read_text()).get("tools", {})
    return {key: str(value) for key, value in tools.items()}


def parse_version(output: str) -> str | None:
    match = _VERSION.search(output)
    return match.group(1) if match else None


def check_tool(ex: Executor, tool: Tool, pinned: str | None) -> ToolStatus:
    command = sops_command() if tool.command == "sops" else tool.command
    try:
        path = ex.which(command)
        result = ex.run([path, *tool.version_args], readonly=True, timeout=20, check=False)
        found = parse_version(result.stdout + "\n" + result.stderr)
    except ToolNotFound:
        return ToolStatus(tool.command, tool.purpose, pinned, None, None)
    except ClusterTemplateError:
        found, path = None, None
    return ToolStatus(tool.command, tool.purpose, pinned, found, path)


def check_files(root: Path) -> list[FileStatus]:
    from ..config.load import load_config
    from ..errors import ConfigError
    from ..inputs import AGE_KEY_FILE, read_age_key
    from ..readfile import UnreadableInput

    statuses = []
    try:
        read_age_key(root / AGE_KEY_FILE)
        mode = (root / AGE_KEY_FILE).stat().st_mode & 0o077
        statuses.append(FileStatus(AGE_KEY_FILE, mode == 0, "readable by others: chmod 600 age.key" if mode else "ok"))
    except FileNotFoundError:
        statuses.append(FileStatus(AGE_KEY_FILE, False, "missing: run `inv init`"))
    except (ValueError, UnreadableInput) as exc:
        statuses.append(FileStatus(AGE_KEY_FILE, False, f"invalid: {exc}"))
    sops_rules = root / ".sops.yaml"
    statuses.append(FileStatus(".sops.yaml", sops_rules.is_file(),
                               "ok" if sops_rules.is_file() else "missing: run `inv configure`"))
    try:
        load_config(root)
        statuses.append(FileStatus("cluster.yaml + nodes.yaml", True, "valid"))
    except ConfigError as error:
        statuses.append(FileStatus("cluster.yaml + nodes.yaml", False, f"{len(error.issues)} problem(s):\n{error}"))
    return statuses


def doctor(root: Path, ex: Executor) -> DoctorReport:
    pins = pinned_versions(root / ".mise.toml")
    tools = [check_tool(ex, tool, pins.get(tool.mise_id)) for tool in TOOLS]
    return DoctorReport(tools, check_files(root))
