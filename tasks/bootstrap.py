"""The `bootstrap` namespace: from machines booted on the Talos ISO to a cluster Flux manages.

Every task can be re-run at any time: each step asks the nodes and the cluster what is already
done and skips it, so a run interrupted anywhere continues where it stopped. `inv --dry` prints
the commands a run would execute (reads still run, so the plan reflects the real cluster).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from invoke import task

from ._cli import ROOT, executor, positive_number, project_lock, say, user_errors, warn, whole_number

# Multiplies every pause between retries and polls (not the deadlines); CI and tests set it below 1.
TIME_SCALE_ENV = "CLUSTER_TEMPLATE_BOOTSTRAP_TIME_SCALE"
TALCONFIG = Path("talos") / "talconfig.yaml"


def _timing(timeout: float | None = None):
    from cluster_template.errors import ClusterTemplateError
    from cluster_template.ops.bootstrap import Timing

    timing = Timing()
    scale = os.environ.get(TIME_SCALE_ENV)
    if scale:
        try:
            timing = timing.scaled(float(scale))
        except ValueError:
            raise ClusterTemplateError(f"{TIME_SCALE_ENV}={scale!r} is not a number") from None
    if timeout is not None:
        timing = timing.with_deadline(positive_number("timeout", timeout))
    return timing


def _progress():
    """A progress printer safe to call from the threads of a parallel apply."""
    lock = threading.Lock()

    def show(message: str) -> None:
        with lock:
            say(message)

    return show


def _require_tools(ex, *tools: str) -> None:
    """Raise ToolNotFound (with the `mise install` hint) for the first tool missing from PATH. A dry
    run only warns: it can plan without the tools, assuming every step is still to do."""
    from cluster_template.errors import ToolNotFound

    for tool in tools:
        try:
            ex.which(tool)
        except ToolNotFound as missing:
            if not ex.dry:
                raise
            warn(f"warning: {missing} (dry run: planning without it)")


def _require_files(*checks: tuple[Path, str]) -> None:
    from cluster_template.errors import ClusterTemplateError

    missing = [f"{path} not found; {hint}" for path, hint in checks if not (ROOT / path).exists()]
    if missing:
        raise ClusterTemplateError("\n".join(missing))


def _talos_preconditions(ex, *tools: str, secrets: bool = True):
    """Config valid, Talos inputs rendered (and, with `secrets`, what decrypting them needs), tools
    present; returns the nodes of nodes.yaml."""
    from cluster_template.inputs import AGE_KEY_FILE
    from cluster_template.ops.nodes import read_nodes

    nodes = read_nodes(ROOT).nodes
    checks = [(TALCONFIG, "run `inv configure` first")]
    if secrets:
        checks += [(Path(AGE_KEY_FILE), "run `inv init` first"), (Path(".sops.yaml"), "run `inv configure` first")]
    _require_files(*checks)
    _require_tools(ex, *tools)
    return nodes


def _summary(steps, dry: bool) -> str:
    from cluster_template.ops.bootstrap import DONE, PLANNED, SKIPPED

    def names(outcome: str) -> str:
        return ", ".join(step.name for step in steps if step.outcome == outcome)

    if dry:
        planned = names(PLANNED)
        return f"dry run: would do {planned or 'nothing'}" + (f"; already done: {names(SKIPPED)}" if names(SKIPPED)
                                                             else "")
    done, skipped = names(DONE), names(SKIPPED)
    if not done:
        return f"nothing to do, every step was already done (skipped: {skipped})"
    return f"done: {done}" + (f"; skipped (already done): {skipped}" if skipped else "")


@task(help={"parallel": "Apply machine configs to up to N nodes at once (default 1: one after another).",
            "timeout": "Give up waiting (nodes installing, etcd bootstrap) after this many seconds."})
@user_errors
def talos(c, parallel="1", timeout=None):
    """Install Talos on every node of nodes.yaml, bootstrap etcd once, and fetch ./kubeconfig.

    Steps: generate the machine configs, preflight (each node reachable in maintenance mode with its
    install disk), `talosctl apply-config --insecure` (retried with backoff; --parallel N), wait until
    every node left maintenance, `talosctl bootstrap` on the first controller, `talosctl kubeconfig`.
    Safe to re-run: configured nodes, an already bootstrapped etcd and a working kubeconfig are skipped."""
    from cluster_template.ops.bootstrap import bootstrap_talos
    from cluster_template.schemas import talos_schema
    from cluster_template.tools.sops import sops_command

    parallel_nodes = whole_number("parallel", parallel)
    ex = executor(c)
    _talos_preconditions(ex, "talosctl", sops_command())
    with project_lock(ex.dry):
        result = bootstrap_talos(ROOT, ex, schema=talos_schema(), parallel=parallel_nodes,
                                 timing=_timing(timeout), progress=_progress())
    say(_summary(result.steps, ex.dry))
    if not ex.dry:
        say("next: `inv bootstrap.apps`")


@task(help={"timeout": "Give up waiting (nodes registering, Flux Ready) after this many seconds."})
@user_errors
def apps(c, timeout=None):
    """Install the cluster's base (Cilium, CoreDNS, Spegel, cert-manager, Flux) and hand over to Flux.

    Waits for the nodes to register (NotReady until the CNI runs), creates the namespaces of
    kubernetes/apps/, applies the bootstrap secrets (decrypted in memory) and the CRDs server-side,
    runs `helmfile sync` on bootstrap/helmfile.d/01-apps.yaml (skipped once Flux is Ready: it owns
    the releases then), and waits for Flux's GitRepository and root Kustomizations to be Ready."""
    from cluster_template.inputs import AGE_KEY_FILE
    from cluster_template.ops.bootstrap import APPS_HELMFILE, CRDS_HELMFILE, KUBECONFIG_FILE, bootstrap_apps
    from cluster_template.ops.nodes import read_nodes
    from cluster_template.tools.sops import sops_command

    ex = executor(c)
    nodes = read_nodes(ROOT).nodes
    _require_files((Path(AGE_KEY_FILE), "run `inv init` first"), (CRDS_HELMFILE, "run `inv configure` first"),
                   (APPS_HELMFILE, "run `inv configure` first"))
    if not ex.dry:  # a dry run without a cluster plans for an empty one
        _require_files((KUBECONFIG_FILE, "run `inv bootstrap.talos` first"))
    _require_tools(ex, "helmfile", sops_command())
    with project_lock(ex.dry):
        result = bootstrap_apps(ROOT, ex, nodes=nodes, timing=_timing(timeout), progress=_progress())
    say(_summary(result.steps, ex.dry))
    if not ex.dry:
        say("Flux is syncing the Git repository; follow it with `flux get kustomizations --watch`")


@task
@user_errors
def preflight(c):
    """Check every node of nodes.yaml: reachable on the Talos API in maintenance mode, install disk present.

    Nodes that already left maintenance mode count as done. Unreachable nodes are warnings; the task
    fails when no node is reachable or an install disk is missing, listing every problem."""
    from cluster_template.ops.bootstrap import preflight as run_preflight

    ex = executor(c)
    _talos_preconditions(ex, "talosctl", secrets=False)
    result = run_preflight(ROOT, ex, timing=_timing(), progress=_progress())
    counts = {state: len(result.in_state(state)) for state in ("maintenance", "configured", "unreachable")}
    say(f"preflight passed: {counts['maintenance']} in maintenance mode, {counts['configured']} already configured, "
        f"{counts['unreachable']} unreachable")


@task(help={"timeout": "Keep checking for up to this many seconds until every node is ready (default: check once)."})
@user_errors
def verify(c, timeout=None):
    """Check that every node left maintenance mode and its services run (Talos machine status ready)."""
    from cluster_template.ops.bootstrap import verify as run_verify

    ex = executor(c)
    _talos_preconditions(ex, "talosctl", secrets=False)
    seconds = _timing(timeout).install_timeout if timeout else 0.0
    result = run_verify(ROOT, ex, timing=_timing(), timeout=seconds, progress=_progress())
    say(f"all {len(result.ready)} nodes are configured and ready: {', '.join(n.label for n in result.ready)}")
