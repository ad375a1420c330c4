"""Root tasks about the running cluster: `reconcile` and `status` (wired into the root collection
by tasks.py)."""

from __future__ import annotations

from invoke import task

from ._cli import ROOT, executor, positive_number, project_lock, say, user_errors, warn


@task(help={"timeout": "Seconds to wait for the root Kustomization and cluster-apps to be Ready (default 300)."})
@user_errors
def reconcile(c, timeout="300"):
    """Make Flux fetch the Git source and apply it now (`flux reconcile kustomization flux-system
    --with-source`), then wait for the root Kustomization and cluster-apps and report whether they
    are Ready, with Flux's message when they are not."""
    from invoke import Exit

    from cluster_template.cluster import Kube
    from cluster_template.ops.nodes import kubeconfig_path
    from cluster_template.ops.reconcile import reconcile as run_reconcile
    from cluster_template.tools.flux import Flux

    seconds = positive_number("timeout", timeout)
    ex = executor(c)
    kubeconfig = kubeconfig_path(ROOT)
    flux = Flux(ex, kubeconfig, timeout=seconds)
    with project_lock(ex.dry), Kube(kubeconfig, ex) as kube:
        result = run_reconcile(flux, kube, timeout=seconds, progress=say)
    if result.error:
        say(f"✗ flux reconcile: {result.error}")
    for state in result.states:
        mark = "✔" if state.ok else "✗"
        say(f"{mark} Kustomization {state.namespace}/{state.name}: Ready={state.ready}"
            + (f" — {state.message}" if state.message else ""))
    if not result.ok and not result.dry:
        raise Exit(code=1)


@task(help={"json": "Print the status as JSON (for scripts)."})
@user_errors
def status(c, json=False):
    """Summarise the cluster: nodes (Kubernetes Ready, Talos version), etcd, Flux sources,
    Kustomizations and HelmReleases, and cert-manager Certificates. Marks with ✗ whatever is not
    Ready and says why; exits with code 1 when anything is not Ready."""
    import json as json_module

    from invoke import Exit

    from cluster_template import outputs
    from cluster_template.cluster import Kube
    from cluster_template.errors import ClusterTemplateError
    from cluster_template.ops.nodes import kubeconfig_path, load_inventory, read_nodes, talos_client
    from cluster_template.ops.report import render_table
    from cluster_template.ops.status import gather_status

    ex = executor(c)
    pending = outputs.pending_swap(ROOT)
    if pending:  # the target versions below come from talos/, which may be half old, half new
        warn(f"warning: {pending}")
    try:
        inventory = load_inventory(ROOT)
    except ClusterTemplateError:  # without the talconfig, still report (no target versions then)
        inventory = read_nodes(ROOT)
    kubeconfig = kubeconfig_path(ROOT)
    talos = talos_client(ROOT, ex)
    with Kube(kubeconfig, ex) as kube:
        report = gather_status(inventory, talos, kube)
    if json:
        say(json_module.dumps(report.to_dict(), indent=2))
    else:
        say("\n\n".join(render_table(table) for table in report.tables))
        say("")
        say("all Ready" if report.ok else f"{len(report.problems)} problem(s):\n"
            + "\n".join(f"  ✗ {problem}" for problem in report.problems))
    if not report.ok:
        raise Exit(code=1)
