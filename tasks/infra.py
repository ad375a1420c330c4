"""The `infra` namespace: OpenTofu for the Proxmox VMs of the nodes, and a readiness check.

Credentials come from infrastructure/secrets.sops.yaml (decrypted once per run) and reach tofu
only through its environment. Extra tofu arguments go in `--args "..."`, e.g.
`inv infra.plan --args="-target=proxmox_virtual_environment_vm.node[\\"k8s-0\\"]"`.
"""

from __future__ import annotations

import sys

from invoke import Exit, task

from ._cli import ROOT, confirm, executor, project_lock, say, user_errors, warn

ARGS_HELP = "Extra arguments for tofu, in one quoted string (split like a shell would)."


def _session(c):
    from cluster_template.ops.infra import Infra

    ex = executor(c)
    return Infra(ROOT, ex, no_color=not sys.stdout.isatty()), ex


def _extra(args: str) -> list[str]:
    import shlex

    from cluster_template.ops.infra import InfraError

    try:
        return shlex.split(args or "")
    except ValueError as error:
        raise InfraError(f"--args could not be split: {error}") from None


def _show(run, *arguments):
    """Run one Infra operation and print what tofu printed, also when it failed."""
    from cluster_template.ops.infra import TofuFailed

    try:
        output = run(*arguments)
    except TofuFailed as failure:
        if failure.stdout.strip():
            say(failure.stdout.rstrip())
        raise
    if output.stdout.strip():
        say(output.stdout.rstrip())
    if output.stderr.strip():
        warn(output.stderr.rstrip())
    return output


def _ask(question: str, yes: bool, dry: bool) -> None:
    from cluster_template.errors import Refused

    if dry:
        return
    if not confirm(question, yes):
        raise Refused("cancelled; nothing was changed")


@task(help={"args": ARGS_HELP})
@user_errors
def init(c, args=""):
    """Initialize infrastructure/tofu: configure the state backend and install the providers
    (`--args=-upgrade` after a provider update, `--args=-migrate-state` after a backend change)."""
    infra, ex = _session(c)
    with project_lock(ex.dry):
        _show(infra.init, _extra(args))


@task(help={"args": ARGS_HELP})
@user_errors
def plan(c, args=""):
    """Plan the VM changes and save the plan (infrastructure/tofu/tfplan) for `inv infra.apply`.

    Runs `tofu init` first when the directory is not initialized. On the very first run, before
    the state exists, `--args=-lock=false` may be needed."""
    infra, ex = _session(c)
    with project_lock(ex.dry):
        _show(infra.plan, _extra(args))
    if not ex.dry:
        say("saved the plan; review it above, then run `inv infra.apply`")


@task(help={"args": ARGS_HELP})
@user_errors
def apply(c, args=""):
    """Apply exactly the plan saved by `inv infra.plan`, then remove it."""
    infra, ex = _session(c)
    with project_lock(ex.dry):
        _show(infra.apply, _extra(args))


@task(name="apply-auto", help={"args": ARGS_HELP, "yes": "Do not ask for confirmation (for scripts)."})
@user_errors
def apply_auto(c, args="", yes=False):
    """Plan and apply in one step, without a saved plan to review (asks first)."""
    infra, ex = _session(c)
    infra.require_rendered()
    _ask("This applies changes without a saved plan to review. Continue?", yes, ex.dry)
    with project_lock(ex.dry):
        _show(infra.apply_auto, _extra(args))


@task(help={"args": ARGS_HELP, "yes": "Do not ask for confirmation (for scripts)."})
@user_errors
def destroy(c, args="", yes=False):
    """Destroy every VM and ISO OpenTofu manages (asks first; there is no undo)."""
    infra, ex = _session(c)
    infra.require_rendered()
    _ask("This DESTROYS every VM and ISO managed by OpenTofu, with their disks. Continue?", yes, ex.dry)
    with project_lock(ex.dry):
        _show(infra.destroy, _extra(args))


@task(help={"args": ARGS_HELP})
@user_errors
def output(c, args=""):
    """Show the outputs of the state: VM IDs, MACs and addresses, the Talos ISOs
    (`--args=-json` for scripts)."""
    infra, _ = _session(c)
    _show(infra.output, _extra(args))


@task(name="state-list", help={"args": ARGS_HELP})
@user_errors
def state_list(c, args=""):
    """List the resources in the OpenTofu state."""
    infra, _ = _session(c)
    _show(infra.state_list, _extra(args))


@task(name="force-unlock", help={"lock_id": "The lock ID tofu printed under \"Lock Info\".",
                                 "args": ARGS_HELP, "yes": "Do not ask for confirmation (for scripts)."})
@user_errors
def force_unlock(c, lock_id="", args="", yes=False):
    """Release a state lock left behind by an interrupted run (asks first)."""
    from cluster_template.ops.infra import InfraError

    if not lock_id.strip():
        raise InfraError("--lock-id is required: the ID tofu printed under \"Lock Info\"")
    infra, ex = _session(c)
    infra.require_rendered()
    _ask(f"Force-unlocking the state (lock {lock_id}) is dangerous if another run is still active. Continue?",
         yes, ex.dry)
    with project_lock(ex.dry):
        _show(infra.force_unlock, lock_id, _extra(args))


@task(help={"args": ARGS_HELP})
@user_errors
def validate(c, args=""):
    """Validate the OpenTofu configuration (installs the providers first if needed; no credentials)."""
    infra, _ = _session(c)
    _show(infra.validate, _extra(args))


@task(help={"args": ARGS_HELP})
@user_errors
def fmt(c, args=""):
    """Format the OpenTofu files in place."""
    infra, ex = _session(c)
    with project_lock(ex.dry):
        _show(infra.fmt, _extra(args))


@task(name="fmt-check", help={"args": ARGS_HELP})
@user_errors
def fmt_check(c, args=""):
    """Check the OpenTofu files are formatted; exits 1 with a diff when they are not."""
    infra, _ = _session(c)
    _show(infra.fmt_check, _extra(args))


@task(name="secrets-edit")
@user_errors
def secrets_edit(c):
    """Edit infrastructure/secrets.sops.yaml decrypted in $EDITOR (sops re-encrypts on save).

    cluster.yaml stays the source of these values: `inv configure` rewrites this file from it, so
    make lasting changes there."""
    infra, ex = _session(c)
    with project_lock(ex.dry):
        changed = infra.edit_secrets()
    if not ex.dry:
        say("saved" if changed else "no changes")


@task(name="verify-nodes")
@user_errors
def verify_nodes(c):
    """Check every node is ready for `inv bootstrap.talos`: it answers on the Talos maintenance
    API (port 50000) and, when proxmox_ssh_host is set, its VM is running on the Proxmox host.
    Exits 1 when any node is not ready."""
    from cluster_template.ops.infra import verify_nodes as run_verify

    report = run_verify(ROOT, executor(c))
    rows = [("NODE", "ADDRESS", "TALOS API", *(("VM",) if report.vm_checked else ()))]
    for node in report.nodes:
        talos = ("ok: " if node.talos_ok else "FAIL: ") + node.talos
        vm = (("ok: " if node.vm_ok else "FAIL: ") + node.vm,) if report.vm_checked else ()
        rows.append((node.name, node.address, talos, *vm))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        say("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    if report.ssh_error:
        say(f"\nProxmox host check failed: {report.ssh_error}")
    if report.ok:
        say("\nAll nodes ready for bootstrap! Next: `inv bootstrap.talos`")
        return
    not_ready = sum(1 for node in report.nodes if not node.ready)
    say(f"\n{not_ready} of {len(report.nodes)} node(s) not ready. Check:")
    for hint in report.hints:
        say(f"  - {hint}")
    raise Exit(code=1)
