"""The `talos` namespace: machine configs, and day-2 operations on Talos nodes."""

from __future__ import annotations

from invoke import task

from ._cli import ROOT, executor, project_lock, say, user_errors


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
