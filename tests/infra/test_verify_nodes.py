"""`inv infra.verify-nodes` against the fake talosctl, real TCP ports and a real OpenSSH server.

The nodes live on loopback addresses (127.0.0.11-13). A node "answers" when the test listens on
its port 50000; the fake talosctl plays the maintenance API. The Proxmox host is an sshd on
127.0.0.1 whose `qm` is a small script reading VM states from files the test writes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluster_template.ops.infra import HINT_CONFIGURED, HINT_PORT, HINT_POWER, HINT_SSH, probe_port
from tests.fakes.fixtures import fake_tools

from .conftest import Project, prepared_project

SSHD = "/usr/sbin/sshd"
TALOS_PORT = 50000
ADDRESSES = {"k8s-0": "127.0.0.11", "k8s-1": "127.0.0.12", "k8s-2": "127.0.0.13"}
VM_IDS = {"k8s-0": 101, "k8s-1": 102, "k8s-2": 103}
SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"

QM_SCRIPT = """#!/bin/sh
# A stand-in for Proxmox's qm: VM states are files named after the VM ID.
STATE="{state}"
case "$1" in
  list)
    echo "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID"
    for f in "$STATE"/*; do
      [ -f "$f" ] || continue
      id=$(basename "$f")
      printf "%10s %-20s %-10s %-10s %12s %-10s\\n" "$id" "$(cat "$STATE/names/$id")" "$(cat "$f")" 8192 64.00 0
    done ;;
  status)
    if [ -f "$STATE/$2" ]; then echo "status: $(cat "$STATE/$2")"; else
      echo "Configuration file 'nodes/pve/qemu-server/$2.conf' does not exist" >&2; exit 2; fi ;;
  *) echo "unknown command 'qm $1'" >&2; exit 255 ;;
esac
"""


@dataclass
class SSHServer:
    port: int
    client_key: Path
    host_fingerprint: str
    host_public_key: str
    vm_dir: Path

    def set_vm(self, vm_id: int, name: str, status: str) -> None:
        (self.vm_dir / str(vm_id)).write_text(status)
        (self.vm_dir / "names" / str(vm_id)).write_text(name)

    def clear(self) -> None:
        for path in self.vm_dir.iterdir():
            if path.is_file():
                path.unlink()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sshd_answers(process: subprocess.Popen, port: int, timeout: float = 10.0) -> bool:
    """Whether our sshd serves `port`: False when it exits first (another process took the free port
    between free_port() and sshd's bind, e.g. a test of a parallel worker). The SSH banner tells our
    sshd from whatever else might hold the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                if connection.recv(4).startswith(b"SSH-") and process.poll() is None:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"sshd did not listen on {port}")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not os.path.exists(SSHD):
        pytest.skip("openssh-server is not installed (.ci/run installs it)")
    if os.geteuid() != 0:
        pytest.skip("sshd on loopback needs root here")
    base = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(base / name)],
                       check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    listed = subprocess.run(["ssh-keygen", "-lf", str(base / "host_key.pub")], capture_output=True, text=True,
                            check=True).stdout.split()
    fingerprint = listed[1]
    bin_dir = base / "bin"
    bin_dir.mkdir()
    vm_dir = base / "vms"
    (vm_dir / "names").mkdir(parents=True)
    qm = bin_dir / "qm"
    qm.write_text(QM_SCRIPT.format(state=vm_dir))
    qm.chmod(0o755)
    config = base / "sshd_config"
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    with open(base / "sshd.log", "w") as log:
        for _attempt in range(5):
            port = free_port()
            process = start_sshd(config, port, base, bin_dir, log)
            if sshd_answers(process, port):
                break
            process.wait(timeout=10)
        else:
            pytest.fail(f"sshd did not start; see {base / 'sshd.log'}")
        try:
            yield SSHServer(port, base / "client_key", fingerprint, (base / "host_key.pub").read_text().split()[1],
                            vm_dir)
        finally:
            process.terminate()  # our own sshd, by its handle
            process.wait(timeout=10)


def start_sshd(config: Path, port: int, base: Path, bin_dir: Path, log) -> subprocess.Popen:
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {base / 'host_key'}
PidFile {base / 'sshd.pid'}
AuthorizedKeysFile {base / 'authorized_keys'}
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
SetEnv PATH={bin_dir}:/usr/bin:/bin
""")
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    return subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def talos_ports():
    """Listen on port 50000 of the nodes that answer (k8s-0, k8s-1); k8s-2's port stays closed."""
    sockets = []
    try:
        for name in ("k8s-0", "k8s-1"):
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                listener.bind((ADDRESSES[name], TALOS_PORT))
            except OSError as error:
                listener.close()
                pytest.skip(f"cannot listen on {ADDRESSES[name]}:{TALOS_PORT}: {error}")
            listener.listen(16)
            sockets.append(listener)
        yield
    finally:
        for listener in sockets:
            listener.close()


def nodes_yaml(names, *, with_vm_ids=True) -> str:
    lines = ["nodes:"]
    for index, name in enumerate(names):
        lines += [f"  - name: {name}", f"    address: {ADDRESSES[name]}", f"    controller: {str(index == 0).lower()}",
                  "    disk: /dev/sda", f"    mac_addr: \"bc:24:11:00:00:1{index}\"", f"    schematic_id: {SCHEMATIC}"]
        if with_vm_ids and name != "k8s-1":  # k8s-1 is found by name with `qm list`
            lines.append(f"    vm_id: {VM_IDS[name]}")
    return "\n".join(lines) + "\n"


def cluster_yaml(ssh: SSHServer | None = None, *, fingerprint: str | None = None) -> str:
    text = """\
node_cidr: "127.0.0.0/24"
cluster_api_addr: "127.0.0.20"
cluster_gateway_addr: "127.0.0.21"
cluster_dns_gateway_addr: "127.0.0.22"
cloudflare_gateway_addr: "127.0.0.23"
cloudflare_domain: "example.com"
cloudflare_token: "cloudflare-token-not-a-secret-here"
repository_name: "someone/cluster"
"""
    if ssh is not None:
        text += (f'proxmox_ssh_host: "127.0.0.1"\nproxmox_ssh_port: {ssh.port}\n'
                 f'proxmox_ssh_key_file: "{ssh.client_key}"\n')
        if fingerprint:
            text += f'proxmox_ssh_host_key: "{fingerprint}"\n'
    return text


@pytest.fixture
def tools(tmp_path):
    return fake_tools(tmp_path / "fakes", controllers=1, workers=2, subnet="127.0.0", first_host=11)


@pytest.fixture
def make_project(tmp_path):
    def make(cluster: str, nodes: str) -> Project:
        target = tmp_path / f"repo-{len(list(tmp_path.glob('repo-*')))}"
        return prepared_project(target, cluster, nodes)
    return make


def verify(project: Project, tools) -> subprocess.CompletedProcess:
    return project.inv("infra.verify-nodes", env=dict(tools.overrides))


def target(call) -> str:
    return call.argv[call.argv.index("--nodes") + 1]


def row(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(name + " "))


def test_all_nodes_ready(sshd, talos_ports, tools, make_project):
    sshd.clear()
    sshd.set_vm(101, "k8s-0", "running")
    sshd.set_vm(102, "k8s-1", "running")
    project = make_project(cluster_yaml(sshd, fingerprint=sshd.host_fingerprint), nodes_yaml(["k8s-0", "k8s-1"]))
    result = verify(project, tools)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All nodes ready for bootstrap" in result.stdout
    assert "ok: running (VM 101)" in row(result.stdout, "k8s-0")
    assert "ok: running (VM 102)" in row(result.stdout, "k8s-1")  # found by name with `qm list`
    assert "ok: maintenance mode" in row(result.stdout, "k8s-0")
    talosctl = tools.calls("talosctl")
    assert sorted(target(call) for call in talosctl) == ["127.0.0.11", "127.0.0.12"]
    assert all(call.has("get", "disks", "--insecure") for call in talosctl)


def test_each_failure_has_its_reason_and_the_hints(sshd, talos_ports, tools, make_project):
    sshd.clear()
    sshd.set_vm(101, "k8s-0", "running")
    sshd.set_vm(102, "k8s-1", "stopped")
    # k8s-2 has no VM at all (103 unknown to qm), and nothing listens on its port 50000.
    project = make_project(cluster_yaml(sshd, fingerprint=sshd.host_fingerprint),
                           nodes_yaml(["k8s-0", "k8s-1", "k8s-2"]))
    result = verify(project, tools)
    assert result.returncode == 1
    out = result.stdout
    assert "ok: maintenance mode" in row(out, "k8s-0") and "ok: running" in row(out, "k8s-0")
    assert "FAIL: stopped (VM 102)" in row(out, "k8s-1")
    assert "FAIL: port 50000 refused the connection" in row(out, "k8s-2")
    assert "qm status 103" in row(out, "k8s-2") and "does not exist" in row(out, "k8s-2")
    assert "2 of 3 node(s) not ready" in out
    assert HINT_POWER in out and HINT_PORT in out
    # The closed port is found before talosctl is even asked.
    assert sorted(target(call) for call in tools.calls("talosctl")) == ["127.0.0.11", "127.0.0.12"]


def test_a_configured_node_is_reported_as_such(talos_ports, tools, make_project):
    with tools.cluster.edit() as state:
        state["nodes"][0]["stage"] = "running"
    project = make_project(cluster_yaml(), nodes_yaml(["k8s-0", "k8s-1"]))
    result = verify(project, tools)
    assert result.returncode == 1
    assert "FAIL: already configured" in row(result.stdout, "k8s-0")
    assert "ok: maintenance mode" in row(result.stdout, "k8s-1")
    assert HINT_CONFIGURED in result.stdout
    assert "VM" not in result.stdout.splitlines()[0]  # no SSH configured: no VM column


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd, talos_ports, tools, make_project):
    sshd.clear()
    sshd.set_vm(101, "k8s-0", "running")
    project = make_project(cluster_yaml(sshd), nodes_yaml(["k8s-0"]))
    result = verify(project, tools)
    assert result.returncode == 1
    assert "not in ~/.ssh/known_hosts" in result.stdout
    assert sshd.host_fingerprint in result.stdout
    assert "proxmox_ssh_host_key" in result.stdout
    assert "not checked (SSH failed)" in row(result.stdout, "k8s-0")
    assert HINT_SSH in result.stdout and HINT_POWER not in result.stdout
    assert not (Path(tools.overrides["HOME"]) / ".ssh" / "known_hosts").exists()  # nothing was added


def test_a_different_fingerprint_is_refused(sshd, talos_ports, tools, make_project):
    sshd.clear()
    sshd.set_vm(101, "k8s-0", "running")
    wrong = "SHA256:" + "A" * 43
    project = make_project(cluster_yaml(sshd, fingerprint=wrong), nodes_yaml(["k8s-0"]))
    result = verify(project, tools)
    assert result.returncode == 1
    assert f"does not match proxmox_ssh_host_key {wrong}" in result.stdout


def test_known_hosts_is_enough(sshd, talos_ports, tools, make_project):
    sshd.clear()
    sshd.set_vm(101, "k8s-0", "running")
    ssh_dir = Path(tools.overrides["HOME"]) / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {sshd.host_public_key}\n")
    project = make_project(cluster_yaml(sshd), nodes_yaml(["k8s-0"]))
    result = verify(project, tools)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: running (VM 101)" in row(result.stdout, "k8s-0")


def test_a_changed_host_key_is_refused_even_with_a_fingerprint(sshd, talos_ports, tools, make_project, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    ssh_dir = Path(tools.overrides["HOME"]) / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    stale = (tmp_path / "other_key.pub").read_text().split()[1]
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {stale}\n")
    project = make_project(cluster_yaml(sshd, fingerprint=sshd.host_fingerprint), nodes_yaml(["k8s-0"]))
    result = verify(project, tools)
    assert result.returncode == 1
    assert "the host key changed" in result.stdout


def test_probe_port_reasons():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert probe_port("127.0.0.1", port, 1.0) is None
    closed = free_port()
    assert "refused" in probe_port("127.0.0.1", closed, 1.0)


def test_ssh_keys_need_the_host(tmp_path, tools, make_project):
    project = make_project(cluster_yaml() + 'proxmox_ssh_key_file: "~/.ssh/id_ed25519"\n', nodes_yaml(["k8s-0"]))
    result = verify(project, tools)
    assert result.returncode == 1
    assert "proxmox_ssh_key_file: requires proxmox_ssh_host" in result.stderr

