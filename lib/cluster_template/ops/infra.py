"""`inv infra.*`: OpenTofu on the rendered `infrastructure/` tree, and whether the node VMs answer.

Credentials (the state backend's basic auth and the Proxmox API token) live encrypted in
`infrastructure/secrets.sops.yaml`. A run decrypts that file once, registers the secret values with
the executor's redactor, and hands the values to tofu only through the environment of `ex.run`:
never on a command line, never in a report, never in the `--dry` plan.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ClusterTemplateError, CommandError
from ..inputs import AGE_KEY_FILE
from ..run import CommandResult, Executor
from ..tools import sops
from ..tools import tofu as tofu_cli

if TYPE_CHECKING:
    from ..config.model import ClusterConfig
    from ..config.nodes import Node
    from ..integrations.proxmox_ssh import SSHTarget

INFRA_DIR = Path("infrastructure")
TOFU_DIR = INFRA_DIR / "tofu"
SECRETS_FILE = INFRA_DIR / "secrets.sops.yaml"
NOT_RENDERED = "set proxmox_api_url and proxmox_node in cluster.yaml and run `inv configure`"

# The seed's workaround for R2 behind OpenTofu 1.11's AWS SDK: only checksum when required.
R2_CHECKSUM_ENV = {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                   "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}

INIT_TIMEOUT = 600.0
PLAN_TIMEOUT = 1800.0
APPLY_TIMEOUT = 3600.0  # VM creation waits for the ISO downloads
QUICK_TIMEOUT = 300.0

# sops exits with 200 when the editor closed without changing anything.
SOPS_FILE_UNCHANGED = 200

BACKEND_KEYS = ("tfstate_username", "tfstate_password")
PROVIDER_KEYS = ("proxmox_api_token_id", "proxmox_api_token_secret")


class InfraError(ClusterTemplateError):
    """A precondition of an infra task is not met."""


class TofuFailed(InfraError):
    """tofu exited with an error; `stdout` holds what it printed before (redacted)."""

    def __init__(self, message: str, stdout: str = ""):
        super().__init__(message)
        self.stdout = stdout


@dataclass(frozen=True)
class InfraCredentials:
    tfstate_username: str
    tfstate_password: str
    proxmox_api_token_id: str
    proxmox_api_token_secret: str

    def backend_env(self) -> dict[str, str]:
        return {"TF_HTTP_USERNAME": self.tfstate_username, "TF_HTTP_PASSWORD": self.tfstate_password}

    def provider_env(self) -> dict[str, str]:
        return {"TF_VAR_proxmox_api_token_id": self.proxmox_api_token_id,
                "TF_VAR_proxmox_api_token_secret": self.proxmox_api_token_secret}


def parse_credentials(text: str) -> InfraCredentials:
    """The credentials in the decrypted secrets file; every value must be a non-empty string."""
    from ..yamlload import load

    data = load(text, source=str(SECRETS_FILE), secret=True) or {}
    if not isinstance(data, dict):
        raise InfraError(f"{SECRETS_FILE} is not a mapping of credentials; run `inv configure` to rewrite it")
    missing = [key for key in (*BACKEND_KEYS, *PROVIDER_KEYS)
               if not isinstance(data.get(key), str) or not data[key].strip()]
    if missing:
        raise InfraError(f"{SECRETS_FILE} has no {', '.join(missing)}; set them in cluster.yaml and run "
                         "`inv configure` (or `inv infra.secrets-edit`)")
    return InfraCredentials(**{key: data[key] for key in (*BACKEND_KEYS, *PROVIDER_KEYS)})


@dataclass(frozen=True)
class TofuOutput:
    """What tofu printed (already redacted); `dry` when nothing ran."""

    stdout: str = ""
    stderr: str = ""
    dry: bool = False


class Infra:
    """The infra tasks of one run: the tofu working directory and the credentials, decrypted at
    most once however many tofu commands the run needs."""

    def __init__(self, root: Path, ex: Executor, *, no_color: bool = False):
        self.root = Path(root)
        self.ex = ex
        self.no_color = no_color
        self._credentials: InfraCredentials | None = None

    @property
    def tofu_dir(self) -> Path:
        return self.root / TOFU_DIR

    @property
    def plan_file(self) -> Path:
        return self.tofu_dir / tofu_cli.PLAN_FILE

    # -- preconditions and credentials --------------------------------------------------------

    def require_rendered(self) -> None:
        if not (self.tofu_dir / "main.tf").is_file():
            raise InfraError(f"{TOFU_DIR}/ has not been rendered: {NOT_RENDERED}")

    def credentials(self) -> InfraCredentials:
        if self._credentials is None:
            secrets_file = self.root / SECRETS_FILE
            if not secrets_file.is_file():
                raise InfraError(f"{SECRETS_FILE} is missing: {NOT_RENDERED}")
            age_key = self.root / AGE_KEY_FILE
            if not age_key.is_file():
                raise InfraError(f"{AGE_KEY_FILE} is missing, so {SECRETS_FILE} cannot be decrypted; "
                                 "run `inv init` or restore the key")
            credentials = parse_credentials(sops.decrypt(self.ex, secrets_file, age_key_file=age_key))
            # The user name is no secret (the config model does not mark it as one), and masking
            # its default, "terraform", would garble file names such as terraform.tfvars in
            # tofu's messages; every other value is masked wherever the executor reports.
            self.ex.redactor.add(credentials.tfstate_password, credentials.proxmox_api_token_id,
                                 credentials.proxmox_api_token_secret)
            self._credentials = credentials
        return self._credentials

    def _env(self, *, backend: bool, provider: bool) -> dict[str, str]:
        env = {**tofu_cli.AUTOMATION_ENV, **R2_CHECKSUM_ENV}
        if backend or provider:
            credentials = self.credentials()
            if backend:
                env.update(credentials.backend_env())
            if provider:
                env.update(credentials.provider_env())
        return env

    # -- running tofu ------------------------------------------------------------------------------

    def _tofu(self, argv: Sequence[str], *, backend: bool = False, provider: bool = False,
              readonly: bool = False, timeout: float = QUICK_TIMEOUT) -> TofuOutput:
        env = self._env(backend=backend, provider=provider)
        result = self.ex.run(argv, readonly=readonly, cwd=self.tofu_dir, env=env, timeout=timeout, check=False,
                             stop_grace=tofu_cli.STOP_GRACE)
        output = self._redacted(result)
        if result.returncode != 0:
            raise TofuFailed(self._failure(result, output), output.stdout)
        return output

    def _redacted(self, result: CommandResult) -> TofuOutput:
        redact = self.ex.redactor.redact
        return TofuOutput(redact(result.stdout), redact(result.stderr), result.dry)

    def _failure(self, result: CommandResult, output: TofuOutput) -> str:
        message = f"`{self.ex.display(result.argv)}` failed with exit code {result.returncode}"
        details = output.stderr.strip() or output.stdout.strip()[-2000:]
        if details:
            message += ":\n" + "\n".join(f"  | {line}" for line in details.splitlines())
        lock_id = tofu_cli.locked_by_other(result.stderr)
        if lock_id:
            message += (f"\nthe state is locked by another run; if no tofu run is active, release it with "
                        f"`inv infra.force-unlock --lock-id {lock_id}`")
        elif tofu_cli.needs_reinit(result.stderr):
            message += ("\nthe backend configuration changed since `tofu init`: run "
                        "`inv infra.init --args=-migrate-state` (keep the state) or `--args=-reconfigure`")
        return message

    def _backend_ready(self) -> bool:
        # `tofu init` records the backend it configured here; -backend=false does not.
        return (self.tofu_dir / ".terraform" / "terraform.tfstate").is_file()

    def _ensure_init(self, *, backend: bool = True) -> tuple[list[TofuOutput], bool]:
        """Run `tofu init` first when the working directory needs it. Returns its output and
        whether it was only planned (dry run), in which case later commands cannot run either."""
        ready = self._backend_ready() if backend else (self.tofu_dir / ".terraform").is_dir()
        if ready:
            return [], False
        self.ex.note(f"{TOFU_DIR} is not initialized yet, so `tofu init` comes first")
        output = self._tofu(tofu_cli.init(backend=backend, no_color=self.no_color), backend=backend,
                            timeout=INIT_TIMEOUT)
        return [output], output.dry

    # -- operations --------------------------------------------------------------------------------

    def init(self, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        return self._tofu(tofu_cli.init(extra, no_color=self.no_color), backend=True, timeout=INIT_TIMEOUT)

    def plan(self, extra: Sequence[str] = ()) -> TofuOutput:
        """Save a plan to `tfplan` for `apply`. A previous plan is removed first, so a failed plan
        never leaves an older one behind to be applied by mistake."""
        self.require_rendered()
        before, _ = self._ensure_init()
        self.ex.remove(self.plan_file, label=f"{TOFU_DIR}/{tofu_cli.PLAN_FILE}")
        output = self._tofu(tofu_cli.plan(extra, no_color=self.no_color), backend=True, provider=True,
                            timeout=PLAN_TIMEOUT)
        return _joined(*before, output)

    def apply(self, extra: Sequence[str] = ()) -> TofuOutput:
        """Apply the saved plan, then remove it (a plan can be applied only once)."""
        self.require_rendered()
        if not self.plan_file.is_file():
            raise InfraError(f"there is no saved plan ({TOFU_DIR}/{tofu_cli.PLAN_FILE}): "
                             "run `inv infra.plan` first, review it, then `inv infra.apply`")
        output = self._tofu(tofu_cli.apply_plan(extra, no_color=self.no_color), backend=True, provider=True,
                            timeout=APPLY_TIMEOUT)
        self.ex.remove(self.plan_file, label=f"{TOFU_DIR}/{tofu_cli.PLAN_FILE}")
        return output

    def apply_auto(self, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        before, _ = self._ensure_init()
        output = self._tofu(tofu_cli.apply_auto(extra, no_color=self.no_color), backend=True, provider=True,
                            timeout=APPLY_TIMEOUT)
        return _joined(*before, output)

    def destroy(self, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        before, _ = self._ensure_init()
        output = self._tofu(tofu_cli.destroy(extra, no_color=self.no_color), backend=True, provider=True,
                            timeout=APPLY_TIMEOUT)
        return _joined(*before, output)

    def output(self, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        before, planned = self._ensure_init()
        output = self._tofu(tofu_cli.output(extra, no_color=self.no_color), backend=True, readonly=not planned)
        return _joined(*before, output)

    def state_list(self, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        before, planned = self._ensure_init()
        output = self._tofu(tofu_cli.state_list(extra), backend=True, readonly=not planned)
        return _joined(*before, output)

    def force_unlock(self, lock_id: str, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        if not lock_id.strip():
            raise InfraError("--lock-id is required: the ID tofu printed under \"Lock Info\"")
        before, _ = self._ensure_init()
        output = self._tofu(tofu_cli.force_unlock(lock_id.strip(), extra), backend=True)
        return _joined(*before, output)

    def validate(self, extra: Sequence[str] = ()) -> TofuOutput:
        """Check the configuration; needs the providers but no state, so no credentials."""
        self.require_rendered()
        before, planned = self._ensure_init(backend=False)
        output = self._tofu(tofu_cli.validate(extra, no_color=self.no_color), readonly=not planned)
        return _joined(*before, output)

    def fmt(self, extra: Sequence[str] = ()) -> TofuOutput:
        self.require_rendered()
        return self._tofu(tofu_cli.fmt(extra))

    def fmt_check(self, extra: Sequence[str] = ()) -> TofuOutput:
        """Exit 0 when every file is formatted; TofuFailed listing the diff otherwise."""
        self.require_rendered()
        argv = tofu_cli.fmt(extra, check=True)
        result = self.ex.run(argv, readonly=True, cwd=self.tofu_dir, env=dict(tofu_cli.AUTOMATION_ENV),
                             timeout=QUICK_TIMEOUT, check=False)
        output = self._redacted(result)
        if result.returncode == tofu_cli.FMT_CHECK_UNFORMATTED:
            raise TofuFailed(f"some files under {TOFU_DIR} are not formatted (diff above); run `inv infra.fmt`",
                             output.stdout)
        if result.returncode != 0:
            raise TofuFailed(self._failure(result, output), output.stdout)
        return output

    def edit_secrets(self) -> bool:
        """Open the secrets file decrypted in $EDITOR (sops re-encrypts on save). Returns whether
        the file changed."""
        secrets_file = self.root / SECRETS_FILE
        if not secrets_file.is_file():
            raise InfraError(f"{SECRETS_FILE} does not exist yet: run `inv configure` first "
                             "(with proxmox_api_url and proxmox_node set in cluster.yaml)")
        age_key = self.root / AGE_KEY_FILE
        if not age_key.is_file():
            raise InfraError(f"{AGE_KEY_FILE} is missing, so {SECRETS_FILE} cannot be decrypted; run `inv init`")
        argv = [sops.sops_command(), str(SECRETS_FILE)]
        code = self.ex.run_interactive(argv, cwd=self.root, env=sops.age_env(age_key),
                                       ok_codes=(0, SOPS_FILE_UNCHANGED))
        return code == 0


def _joined(*outputs: TofuOutput) -> TofuOutput:
    return TofuOutput("".join(o.stdout for o in outputs), "".join(o.stderr for o in outputs),
                      any(o.dry for o in outputs))


# -- verify-nodes -----------------------------------------------------------------------------------

TALOS_API_PORT = 50000
CONNECT_TIMEOUT = 3.0
TALOSCTL_TIMEOUT = 15.0
PARALLEL_CHECKS = 8

HINT_POWER = "Make sure the VMs are powered on (Proxmox UI, or `qm list` on the host)."
HINT_NETWORK = ("Check the nodes are on the expected network: the bridge and VLAN of the VMs "
                "(proxmox_vm_advanced.network_bridge, node_vlan_tag, proxmox_vlan_mode) and the DHCP "
                "reservation of each MAC address.")
HINT_PORT = "Check that TCP port 50000 (the Talos API) is reachable from this machine (firewalls)."
HINT_SSH = ("Fix the SSH access to the Proxmox host (the error above), or unset proxmox_ssh_host to "
            "skip the VM check.")
HINT_CONFIGURED = ("A node that is already configured no longer serves the maintenance API; that is "
                   "expected after `inv bootstrap.talos` (use `talosctl -n IP health` from then on).")


@dataclass(frozen=True)
class NodeCheck:
    """Readiness of one node for `inv bootstrap.talos`."""

    name: str
    address: str
    talos_ok: bool
    talos: str  # what the Talos maintenance API check found
    vm_ok: bool | None = None  # None: not checked (no proxmox_ssh_host)
    vm: str = ""
    problems: tuple[str, ...] = ()  # kinds of failure, to pick the hints

    @property
    def ready(self) -> bool:
        return self.talos_ok and self.vm_ok is not False


@dataclass(frozen=True)
class VerifyReport:
    nodes: list[NodeCheck]
    vm_checked: bool
    ssh_error: str | None = None
    hints: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.ssh_error is None and all(node.ready for node in self.nodes)


def probe_port(address: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection to address:port succeeds, else why not (in words)."""
    import errno

    try:
        with socket.create_connection((address, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer on port {port} within {timeout:g}s (VM off, wrong network or VLAN, or a firewall)"
    except ConnectionRefusedError:
        return f"port {port} refused the connection: the machine is up but the Talos API is not listening"
    except OSError as error:
        if error.errno == errno.EHOSTUNREACH:
            return "no route to host (VM off, or not on this network)"
        if error.errno == errno.ENETUNREACH:
            return "network unreachable from this machine"
        return f"cannot connect to port {port}: {error.strerror or error}"


def _talos_check(ex: Executor, address: str, *, port: int, connect_timeout: float,
                 talosctl_timeout: float) -> tuple[bool, str, tuple[str, ...]]:
    from ..tools.output import UnexpectedOutput
    from ..tools.talosctl import Talosctl, last_error_line

    unreachable = probe_port(address, port, connect_timeout)
    if unreachable:
        kind = "refused" if "refused" in unreachable else "unreachable"
        return False, unreachable, (kind,)
    # The maintenance API answers without credentials; the disks are what bootstrap reads next.
    try:
        disks = Talosctl(ex, None, timeout=talosctl_timeout).disks(address, insecure=True)
    except CommandError as error:  # a failed call or a timeout, already redacted
        reason = last_error_line(error.stderr_tail) or str(error)
        if "certificate required" in reason:
            return False, "already configured: the maintenance API is closed", ("configured",)
        return False, f"talosctl: {reason}", ("talosctl",)
    except UnexpectedOutput as error:
        return False, f"talosctl: {error}", ("talosctl",)
    return True, f"maintenance mode, {len(disks)} disk(s)", ()


def _ssh_target(root: Path, cluster: ClusterConfig) -> SSHTarget:
    from ..integrations.proxmox_ssh import SSHTarget

    key_file = None
    if cluster.proxmox_ssh_key_file:
        key_file = Path(os.path.expanduser(cluster.proxmox_ssh_key_file))
        if not key_file.is_absolute():
            key_file = root / key_file
    return SSHTarget(host=cluster.proxmox_ssh_host, port=cluster.proxmox_ssh_port, user=cluster.proxmox_ssh_user,
                     key_file=key_file, accept_fingerprint=cluster.proxmox_ssh_host_key)


def _vm_states(target: SSHTarget, nodes: Sequence[Node]) -> tuple[dict[str, tuple[bool, str]], str | None]:
    """node name -> (running?, description); or the error that stopped the SSH check."""
    from ..integrations.proxmox_ssh import ProxmoxHost, ProxmoxSSHError

    states: dict[str, tuple[bool, str]] = {}
    try:
        with ProxmoxHost(target) as host:
            by_name: dict[str, int] | None = None
            for node in nodes:
                vm_id = node.vm_id
                if vm_id is None:
                    if by_name is None:
                        by_name = host.vm_ids_by_name()
                    vm_id = by_name.get(node.name)
                    if vm_id is None:
                        states[node.name] = (False, f"no VM named {node.name} on {target.host} (`qm list`)")
                        continue
                try:
                    status = host.vm_status(vm_id)
                except ProxmoxSSHError as error:
                    states[node.name] = (False, str(error))
                    continue
                states[node.name] = (status == "running", f"{status} (VM {vm_id})")
    except ProxmoxSSHError as error:
        return states, str(error)
    return states, None


def verify_nodes(
    root: Path,
    ex: Executor,
    *,
    port: int = TALOS_API_PORT,
    connect_timeout: float = CONNECT_TIMEOUT,
    talosctl_timeout: float = TALOSCTL_TIMEOUT,
) -> VerifyReport:
    """Check every node of nodes.yaml answers on the Talos maintenance API and, when
    proxmox_ssh_host is set, that its VM is running on the Proxmox host."""
    from ..config.load import load_config

    config = load_config(root)
    nodes = list(config.nodes.nodes)
    cluster = config.cluster

    def check(node) -> tuple[bool, str, tuple[str, ...]]:
        return _talos_check(ex, node.address, port=port, connect_timeout=connect_timeout,
                            talosctl_timeout=talosctl_timeout)

    with ThreadPoolExecutor(max_workers=min(PARALLEL_CHECKS, max(1, len(nodes)))) as pool:
        talos = list(pool.map(check, nodes))

    vm_checked = bool(cluster.proxmox_ssh_host)
    states: dict[str, tuple[bool, str]] = {}
    ssh_error = None
    if vm_checked:
        states, ssh_error = _vm_states(_ssh_target(root, cluster), nodes)

    checks = []
    for node, (talos_ok, talos_text, problems) in zip(nodes, talos, strict=True):
        vm_ok: bool | None = None
        vm_text = ""
        if vm_checked:
            if node.name in states:
                vm_ok, vm_text = states[node.name]
                if not vm_ok:
                    problems = (*problems, "vm")
            else:
                vm_ok, vm_text = False, "not checked (SSH failed)"
        checks.append(NodeCheck(node.name, node.address, talos_ok, talos_text, vm_ok, vm_text, problems))
    return VerifyReport(checks, vm_checked, ssh_error, _hints(checks, ssh_error))


def _hints(checks: list[NodeCheck], ssh_error: str | None) -> tuple[str, ...]:
    kinds = {kind for check in checks if not check.ready for kind in check.problems}
    hints = []
    if kinds & {"unreachable", "vm"}:
        hints.append(HINT_POWER)
    if ssh_error:
        hints.append(HINT_SSH)
    if kinds & {"unreachable", "talosctl"}:
        hints.append(HINT_NETWORK)
    if kinds & {"unreachable", "refused"}:
        hints.append(HINT_PORT)
    if "configured" in kinds:
        hints.append(HINT_CONFIGURED)
    return tuple(hints)
