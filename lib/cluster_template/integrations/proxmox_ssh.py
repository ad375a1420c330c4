"""The Proxmox host over SSH (paramiko): is a VM running? (`qm status`, `qm list`).

Host keys are checked against ~/.ssh/known_hosts. A host that is not listed there is accepted only
when its key has the fingerprint the operator configured (proxmox_ssh_host_key); it is then
trusted for this connection only, never written anywhere. A host whose key differs from the one
in known_hosts is always refused.

paramiko is imported inside the functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClusterTemplateError

DEFAULT_TIMEOUT = 10.0


class ProxmoxSSHError(ClusterTemplateError):
    """The Proxmox host could not be reached, authenticated to, or asked."""


class HostKeyRejected(ProxmoxSSHError):
    """The host key is unknown (and not the configured fingerprint) or has changed."""


@dataclass(frozen=True)
class SSHTarget:
    host: str
    port: int = 22
    user: str = "root"
    key_file: Path | None = None
    # SHA256:... fingerprint to trust when the host is not in known_hosts.
    accept_fingerprint: str | None = None
    known_hosts: Path | None = None  # default: ~/.ssh/known_hosts
    timeout: float = DEFAULT_TIMEOUT

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def fingerprint(key: Any) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko public key (`SHA256:` + unpadded base64)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _host_key_policy(target: SSHTarget):
    import paramiko

    class AcceptConfiguredFingerprint(paramiko.MissingHostKeyPolicy):
        """Called only for hosts absent from known_hosts: accept the configured key, refuse others."""

        def missing_host_key(self, client, hostname, key):
            seen = fingerprint(key)
            if target.accept_fingerprint and seen == target.accept_fingerprint:
                client.get_host_keys().add(hostname, key.get_name(), key)  # this session only
                return
            if target.accept_fingerprint:
                raise HostKeyRejected(
                    f"{target.label}: host key {seen} does not match proxmox_ssh_host_key "
                    f"{target.accept_fingerprint}; refusing to connect")
            raise HostKeyRejected(
                f"{target.label}: host is not in {_known_hosts_label(target)}. Its {key.get_name()} key has "
                f"fingerprint {seen}; if that is your Proxmox host (check with `ssh-keygen -lf "
                f"/etc/ssh/ssh_host_{_key_file_kind(key)}_key.pub` on its console), set "
                f"proxmox_ssh_host_key: \"{seen}\" in cluster.yaml or add it to known_hosts with `ssh`")

    return AcceptConfiguredFingerprint()


def _key_file_kind(key: Any) -> str:
    name = key.get_name()
    if "ed25519" in name:
        return "ed25519"
    if "ecdsa" in name:
        return "ecdsa"
    return "rsa"


def _known_hosts_label(target: SSHTarget) -> str:
    return str(target.known_hosts) if target.known_hosts else "~/.ssh/known_hosts"


class ProxmoxHost:
    """An SSH session on the Proxmox host: `with ProxmoxHost(target) as host: host.vm_status(101)`."""

    def __init__(self, target: SSHTarget):
        self.target = target
        self._client: Any = None

    def __enter__(self) -> ProxmoxHost:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        import paramiko

        target = self.target
        client = paramiko.SSHClient()
        known_hosts = target.known_hosts or Path("~/.ssh/known_hosts").expanduser()
        if known_hosts.is_file():
            client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(_host_key_policy(target))
        key_file = str(target.key_file) if target.key_file else None
        try:
            client.connect(
                target.host, port=target.port, username=target.user, key_filename=key_file,
                # A configured key is the only one tried; otherwise ssh-agent and ~/.ssh/id_*.
                allow_agent=key_file is None, look_for_keys=key_file is None,
                timeout=target.timeout, banner_timeout=target.timeout, auth_timeout=target.timeout,
            )
        except HostKeyRejected:
            client.close()
            raise
        except paramiko.BadHostKeyException as error:
            client.close()
            raise HostKeyRejected(
                f"{target.label}: the host key changed (now {fingerprint(error.key)}, "
                f"{_known_hosts_label(target)} has {fingerprint(error.expected_key)}). If the host was "
                f"reinstalled, remove its old entry with `ssh-keygen -R {target.host}`; otherwise do not connect"
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise ProxmoxSSHError(
                f"{target.label}: the key {key_file} is protected by a passphrase; load it into ssh-agent "
                f"and leave proxmox_ssh_key_file unset") from None
        except paramiko.AuthenticationException as error:
            client.close()
            raise ProxmoxSSHError(f"{target.label}: authentication failed ({error})") from None
        except FileNotFoundError:
            client.close()
            raise ProxmoxSSHError(f"{target.label}: key file {key_file} not found") from None
        except paramiko.ssh_exception.NoValidConnectionsError as error:
            client.close()
            reasons = {_os_reason(inner) for inner in error.errors.values()}
            raise ProxmoxSSHError(f"{target.label}: {'; '.join(sorted(reasons))}") from None
        except TimeoutError:
            client.close()
            raise ProxmoxSSHError(f"{target.label}: no answer within {target.timeout:g}s") from None
        except (paramiko.SSHException, OSError) as error:
            client.close()
            raise ProxmoxSSHError(f"{target.label}: {_os_reason(error)}") from None
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        """Run a command on the host; returns (exit code, stdout, stderr). `qm` needs root, so a
        non-root login runs it through `sudo -n` (a password prompt would hang)."""
        if self._client is None:
            raise ProxmoxSSHError("not connected")
        command = shlex.join(argv)
        if self.target.user != "root":
            command = f"sudo -n {command}"
        try:
            _, stdout, stderr = self._client.exec_command(command, timeout=self.target.timeout)
            out = stdout.read().decode(errors="replace")
            err = stderr.read().decode(errors="replace")
            code = stdout.channel.recv_exit_status()
        except TimeoutError:
            raise ProxmoxSSHError(f"{self.target.label}: `{command}` did not finish within "
                                  f"{self.target.timeout:g}s") from None
        return code, out, err

    def vm_status(self, vm_id: int) -> str:
        """The state `qm status` reports ("running", "stopped", ...)."""
        code, out, err = self.run(["qm", "status", str(vm_id)])
        if code != 0:
            raise ProxmoxSSHError(f"`qm status {vm_id}` failed: {_last_line(err or out)}")
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "status":
                return value.strip()
        raise ProxmoxSSHError(f"`qm status {vm_id}` printed no status line: {_last_line(out)}")

    def vm_ids_by_name(self) -> dict[str, int]:
        """VM name -> VM ID, from `qm list`."""
        code, out, err = self.run(["qm", "list"])
        if code != 0:
            raise ProxmoxSSHError(f"`qm list` failed: {_last_line(err or out)}")
        return parse_qm_list(out)


def parse_qm_list(text: str) -> dict[str, int]:
    """`qm list` columns: VMID NAME STATUS MEM(MB) BOOTDISK(GB) PID (the header line first)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].isdigit():
            continue  # the header, or blank
        found.setdefault(fields[1], int(fields[0]))
    return found


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _os_reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        return "connection refused (is sshd running, and is the port right?)"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name ({error.strerror})"
    text = str(error) or type(error).__name__
    return text
