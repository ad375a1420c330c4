"""The `talos` namespace: machine configs, and day-2 operations on Talos nodes."""

from __future__ import annotations

import contextlib

from invoke import task

from ._cli import ROOT, executor, positive_number, project_lock, say, user_errors, whole_number


@task(help={"rotate_talosconfig": "Issue a new admin client certificate even if talosconfig exists."})
@user_errors
def generate_config(c, rotate_talosconfig=False):
    """Generate per-node Talos machine configs and talosconfig into talos/clusterconfig/ (git-ignored).

    Uses the Talos secrets bundle talos/talsecret.sops.yaml, creating and encrypting it on first use
    (commit it: losing it means rebuilding the cluster). Each config is validated against the Talos
    schema; for the same bundle and inputs the output is byte-for-byte the same."""
    from cluster_template.ops.talos_config import generate_talos_config
    from cluster_template.schemas import talos_schema

    ex = executor(c)
    with project_lock(ex.dry):
        result = generate_talos_config(ROOT, ex, schema=talos_schema(), rotate_talosconfig=rotate_talosconfig)
    verb = "would write" if ex.dry else "wrote"
    if result.secrets_created:
        say(f"{verb} a new secrets bundle: talos/talsecret.sops.yaml (commit it)")
    unchanged = len(result.machine_configs) - len(result.changed)
    say(f"machine configs validated against the Talos schema; {verb}: {', '.join(result.changed) or 'none'}"
        f" ({unchanged} unchanged)")


# -- day-2 operations ------------------------------------------------------------------------------
# Shared option texts; the library does the work (cluster_template.ops.upgrade and friends).

NODE_HELP = {"ip": "Address of the node (as in nodes.yaml).", "node": "Name of the node (as in nodes.yaml)."}
GATE_HELP = "Seconds each health gate may wait before the run stops (default 300)."
DRAIN_HELP = "Seconds to wait for a node's pods to be evicted (default 300)."


def _node_printer():
    """Progress lines `[node] message`, one at a time (parallel upgrades print from threads)."""
    import threading

    lock = threading.Lock()

    def show(subject: str, message: str) -> None:
        with lock:
            say(f"[{subject}] {message}")

    return show


@task(help={**NODE_HELP, "mode": "How to apply: auto (default), no-reboot, reboot, staged or try."})
@user_errors
def apply_node(c, ip=None, node=None, mode="auto"):
    """Apply a node's generated machine config (talos/clusterconfig/) to the running node.

    `inv --dry talos.apply-node --ip IP` changes nothing: it shows how talosctl would apply the
    config and the diff against the config the node runs (`talosctl apply-config --dry-run`)."""
    from cluster_template.ops.apply_config import apply_node as run_apply, check_mode
    from cluster_template.ops.nodes import load_inventory, talos_client

    check_mode(mode)
    ex = executor(c)
    target = load_inventory(ROOT).select(ip=ip, name=node)
    talos = talos_client(ROOT, ex)
    with project_lock(ex.dry):
        result = run_apply(ROOT, talos, target, mode=mode)
    verb = "dry run of applying" if result.dry else "applied"
    say(f"{verb} {target.name}'s machine config (mode {mode}) to {target.address}")
    if result.report:
        say(result.report)


@task(help={**NODE_HELP, "drain_timeout": DRAIN_HELP, "gate_timeout": GATE_HELP})
@user_errors
def upgrade_node(c, ip=None, node=None, drain_timeout="300", gate_timeout="300"):
    """Upgrade Talos on one node to the pinned version and its Image Factory schematic.

    Nothing happens when the node already runs that version and schematic. Otherwise: gate (the
    cluster is healthy; for a controller, etcd too), cordon and drain, `talosctl upgrade`, then gate
    again (the node reports the target version, its Kubernetes node is Ready, etcd is healthy)
    and uncordon. `inv --dry` says whether it would upgrade (exit code 2 when it would)."""
    from invoke import Exit

    from cluster_template.cluster import Kube
    from cluster_template.ops.nodes import kubeconfig_path, load_inventory, talos_client
    from cluster_template.ops.upgrade import Upgrader, UpgradeOptions

    options = UpgradeOptions(drain_timeout=positive_number("drain-timeout", drain_timeout),
                             gate_timeout=positive_number("gate-timeout", gate_timeout),
                             resume_command=f"inv talos.upgrade-node --{'ip ' + ip if ip else 'node ' + str(node)}")
    ex = executor(c)
    inventory = load_inventory(ROOT)
    target = inventory.select(ip=ip, name=node)
    talos = talos_client(ROOT, ex)
    with project_lock(ex.dry), Kube(kubeconfig_path(ROOT), ex) as kube:
        upgrader = Upgrader(inventory, talos, kube, options=options, progress=_node_printer())
        check = upgrader.upgrade_one(target)
    if check.at_target:
        say(f"{target.name} already runs {target.target_version} with schematic "
            f"{target.target_schematic or 'as configured'}: nothing to do")
        return
    if ex.dry:
        say(f"would upgrade {check.describe()}")
        raise Exit(code=2)
    say(f"{target.name} upgraded to {target.target_version}")


@task(help={"max_parallel": "Workers upgraded at the same time (default 1); controllers always go one at a time.",
            "drain_timeout": DRAIN_HELP, "gate_timeout": GATE_HELP})
@user_errors
def upgrade(c, max_parallel="1", drain_timeout="300", gate_timeout="300"):
    """Rolling Talos upgrade of every node that does not run the pinned version and schematic.

    Checks every node first and reports all problems at once before touching any. Then the
    controllers one at a time, then the workers (up to --max-parallel at once), each cordoned,
    drained, upgraded and uncordoned once Ready, with health gates before and after every node.
    Stops at the first failed gate; re-running continues where it stopped (journal:
    .inv/journal/talos-upgrade.json) and never upgrades a node twice. `inv --dry talos.upgrade`
    lists the nodes that would be upgraded and exits with code 2 when there are any."""
    from invoke import Exit

    from cluster_template.cluster import Kube
    from cluster_template.ops.journal import Journal
    from cluster_template.ops.nodes import kubeconfig_path, load_inventory, talos_client
    from cluster_template.ops.upgrade import JOURNAL_NAME, UpgradeBlocked, Upgrader, UpgradeOptions, journal_target

    parallel = whole_number("max-parallel", max_parallel)
    drain, gate = positive_number("drain-timeout", drain_timeout), positive_number("gate-timeout", gate_timeout)
    resume = f"inv talos.upgrade --max-parallel {parallel}"
    if drain != 300:
        resume += f" --drain-timeout {drain:g}"
    if gate != 300:
        resume += f" --gate-timeout {gate:g}"
    options = UpgradeOptions(max_parallel=parallel, drain_timeout=drain, gate_timeout=gate, resume_command=resume)
    ex = executor(c)
    inventory = load_inventory(ROOT)
    talos = talos_client(ROOT, ex)
    show = _node_printer()
    with project_lock(ex.dry), Kube(kubeconfig_path(ROOT), ex) as kube:
        journal = Journal(ROOT, ex, JOURNAL_NAME)
        journal.expect(journal_target(inventory))  # a journal towards another target is not resumed
        upgrader = Upgrader(inventory, talos, kube, journal=journal, options=options, progress=show)
        say(f"checking {len(inventory.nodes)} nodes against Talos {inventory.talos_version}")
        plan = upgrader.plan()
        for check in plan.checks:
            say(f"  {'upgrade' if check.needs_work else 'ok     '}  {check.describe()}")
        if plan.problems:
            raise UpgradeBlocked(f"{len(plan.problems)} problem(s) found; nothing was changed:\n"
                                 + "\n".join(f"  {problem}" for problem in plan.problems))
        if not plan.pending:
            say("every node runs the target version and schematic: nothing to do")
            return
        if ex.dry:
            say(f"would upgrade {len(plan.pending)} node(s): {', '.join(check.node.name for check in plan.pending)}")
            raise Exit(code=2)
        if journal.begin(journal_target(inventory)):
            say(f"continuing the run recorded in {journal.relative}")
        result = upgrader.run(plan)
        journal.finish()
    parts = [f"upgraded: {', '.join(result.upgraded) or 'none'}"]
    if result.verified:
        parts.append(f"finished after an interrupted run: {', '.join(result.verified)}")
    if result.skipped:
        parts.append(f"already at the target: {', '.join(result.skipped)}")
    say("; ".join(parts))


@task(help={"gate_timeout": GATE_HELP})
@user_errors
def upgrade_k8s(c, gate_timeout="300"):
    """Upgrade Kubernetes (control plane and kubelets) to the pinned version through the first
    controller, after checking the cluster is healthy. `inv --dry talos.upgrade-k8s` shows
    talosctl's own dry run (`upgrade-k8s --dry-run`)."""
    from cluster_template.ops.gates import Gates
    from cluster_template.ops.kubernetes_upgrade import upgrade_kubernetes
    from cluster_template.ops.nodes import load_inventory, talos_client

    ex = executor(c)
    inventory = load_inventory(ROOT)
    talos = talos_client(ROOT, ex)
    gates = Gates(inventory, talos, None, timeout=positive_number("gate-timeout", gate_timeout))
    show = _node_printer()
    with project_lock(ex.dry):
        result = upgrade_kubernetes(inventory, talos, gates, progress=lambda message: show("cluster", message))
    if result.report:
        say(result.report)
    verb = "dry run done for" if result.dry else "upgraded to"
    say(f"Kubernetes {verb} v{result.target.lstrip('v')} (through {result.via})")


@task(help={**NODE_HELP, "force": "Wipe the whole system disk, not only the STATE and EPHEMERAL partitions.",
            "yes": "Do not ask for confirmation (for scripts)."})
@user_errors
def reset(c, ip=None, node=None, force=False, yes=False):
    """Reset Talos nodes back to maintenance mode (every node, or the one given): DESTROYS the cluster.

    Without --force only the STATE and EPHEMERAL partitions are wiped (the machine config and the
    node's data); with --force the whole system disk. Asks first; without a terminal, only --yes
    confirms."""
    from cluster_template.errors import Refused
    from cluster_template.ops.nodes import load_inventory, talos_client
    from cluster_template.ops.reset import reset_nodes, reset_one_node, wipe_labels

    from ._cli import confirm, warn

    ex = executor(c)
    inventory = load_inventory(ROOT)
    targets = [inventory.select(ip=ip, name=node)] if (ip or node) else list(inventory.nodes)
    whole_cluster = set(targets) == set(inventory.nodes)
    talos = talos_client(ROOT, ex)
    labels = wipe_labels(force)
    what = "the whole system disk" if force else "the " + " and ".join(labels) + " partitions"
    names = ", ".join(target.name for target in targets)
    question = (f"Reset {names} to maintenance mode, wiping {what}? This destroys the cluster" if whole_cluster else
                f"Drain {names}, remove it from the cluster and reset it to maintenance mode, wiping {what}?")
    if not ex.dry and not confirm(question, yes):
        raise Refused("reset cancelled; nothing was changed")
    with project_lock(ex.dry):
        if whole_cluster:
            result = reset_nodes(talos, targets, force=force, progress=_node_printer())
        else:
            with _kube_or_none(ex) as kube:
                result = reset_one_node(talos, targets[0], inventory.controllers, force=force, kube=kube,
                                        progress=_node_printer())
    for message in result.warnings:
        warn(f"warning: {message}")
    if whole_cluster:
        verb = "would reset" if ex.dry else "reset sent to"
        say(f"{verb}: {', '.join(result.reset)}; the nodes reboot into maintenance mode "
            "(`inv bootstrap.talos` installs them again)")
    else:
        verb = "would reset" if ex.dry else "reset"
        deleted = f"; Kubernetes Node {', '.join(result.deleted_nodes)} deleted" if result.deleted_nodes else ""
        say(f"{verb}: {names} (drained{', left etcd' if targets[0].controller else ''}){deleted}; it is in "
            "maintenance mode (`inv bootstrap.talos` installs it again and it rejoins the cluster)")


@contextlib.contextmanager
def _kube_or_none(ex):
    """The cluster's Kubernetes client, or None (with a warning) when there is no usable kubeconfig."""
    from cluster_template.cluster import Kube, KubeConfigError
    from cluster_template.ops.nodes import ClusterFilesMissing, kubeconfig_path

    from ._cli import warn

    try:
        kube = Kube(kubeconfig_path(ROOT), ex)
    except (ClusterFilesMissing, KubeConfigError) as error:
        warn(f"warning: {error}; the Kubernetes Node object is not deleted")
        yield None
        return
    try:
        yield kube
    finally:
        kube.close()
