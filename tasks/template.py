"""The `template` namespace: inspect the template context, generate the config JSON Schemas, refresh the
shipped CRD schemas."""

from __future__ import annotations

from invoke import task

from ._cli import ROOT, executor, say, user_errors

REFERENCE = "docs/CONFIGURATION.md"
SAMPLE = "templates/samples/cluster.sample.yaml"


@task(help={"json": "Print the context as JSON (for scripts)."})
@user_errors
def vars(c, json=False):
    """Print the full template context (config keys with defaults + derived variables), secrets redacted."""
    from cluster_template.ops.configure import build_context
    from cluster_template.context_view import redacted_context, as_json, as_text

    ex = executor(c)
    config, context = build_context(ROOT, ex)
    shown = redacted_context(context, ex.redactor)
    say(as_json(shown) if json else as_text(shown))


@task
@user_errors
def schema(c):
    """Regenerate, from the config model, the JSON Schemas for cluster.yaml/nodes.yaml (editor
    completion; the samples reference them), docs/CONFIGURATION.md, and the commented optional-keys
    part of templates/samples/cluster.sample.yaml."""
    from cluster_template.config.reference import configuration_reference, sample_with_generated_block
    from cluster_template.config.schema import schema_files

    ex = executor(c)
    generated = {f"templates/schemas/{name}": text for name, text in schema_files().items()}
    generated[REFERENCE] = configuration_reference()
    generated[SAMPLE] = sample_with_generated_block((ROOT / SAMPLE).read_text())
    for relative, text in generated.items():
        action = ex.write_file(ROOT / relative, text, label=relative)
        say(f"{action}: {relative}")


@task
@user_errors
def update_schemas(c):
    """Regenerate the shipped CRD schemas (lib/cluster_template/schemas/crds) from the CRDs of the
    versions the templates pin, and record their source in SOURCES.md. Needs network access to
    github.com; `inv --dry template.update-schemas` lists what would be fetched, offline."""
    from cluster_template.schemas.update import plan_lines, refresh

    ex = executor(c)
    plan, changed = refresh(ROOT, ex)
    say("\n".join(plan_lines(plan, dry=ex.dry)))
    for action, path in changed:
        say(f"{action}: {path}")
    if not ex.dry:
        say(f"{len(changed)} file(s) changed; review the diff and run the tests")


@task
@user_errors
def debug(c):
    """Print the seed's debug resource list in one report, read through the Kubernetes API:
    certificates, certificaterequests, gitrepositories, helmrepositories, ocirepositories,
    helmreleases, httproutes, kustomizations, nodes and pods, one table per kind (✗ marks what is
    not healthy)."""
    from cluster_template.cluster import Kube
    from cluster_template.ops.diagnostics import gather_debug
    from cluster_template.ops.nodes import kubeconfig_path
    from cluster_template.ops.report import render_table

    ex = executor(c)
    with Kube(kubeconfig_path(ROOT), ex) as kube:
        tables = gather_debug(kube)
    say("\n\n".join(render_table(table) for table in tables))


@task(help={"yes": "Do not ask for confirmation (for scripts)."})
@user_errors
def tidy(c, yes=False):
    """Archive the templating parts once you maintain the rendered files by hand (reversible).

    Moves templates/, cluster.yaml, nodes.yaml and this template namespace (tasks/template.py) into
    .private/<unix time>/, and rewrites tasks.py without the template namespace and without the
    tasks that render from templates/ (init, configure); the original tasks.py is archived too.
    .private/<time>/RESTORE.txt lists the moves that undo it."""
    from cluster_template.errors import Refused
    from cluster_template.ops.template_maintenance import plan_tidy, tidy as run_tidy

    from ._cli import confirm, project_lock

    ex = executor(c)
    plan = plan_tidy(ROOT)
    for source, target in plan.moves:
        say(f"{'would move' if ex.dry else 'move'}: {source} -> {target}")
    if not ex.dry and not confirm(f"Archive the templating files into {plan.archive}/ and remove the template "
                                  "tasks?", yes):
        raise Refused("tidy cancelled; nothing was changed")
    with project_lock(ex.dry):
        run_tidy(ROOT, ex, plan)
    if not ex.dry:
        say(f"archived into {plan.archive}/ (undo: see {plan.archive}/RESTORE.txt); add .private/ to .gitignore")


@task(help={"yes": "Do not ask for confirmation (for scripts)."})
@user_errors
def reset(c, yes=False):
    """Remove every generated file: those `inv configure` listed in .generated-files and the
    machine configs in talos/clusterconfig/.

    Never removes cluster.yaml, nodes.yaml, the keys and tokens, kubeconfig or the Talos secrets
    bundle talos/talsecret.sops.yaml; `inv configure` renders everything again."""
    from cluster_template.errors import Refused
    from cluster_template.ops.template_maintenance import plan_template_reset, template_reset

    from ._cli import confirm, project_lock

    ex = executor(c)
    plan = plan_template_reset(ROOT)
    if not plan.files:
        say("no generated files to remove")
        return
    if not ex.dry and not confirm(f"Remove {len(plan.files)} generated files (kubernetes/, talos/, bootstrap/, "
                                  "...)?", yes):
        raise Refused("reset cancelled; nothing was removed")
    with project_lock(ex.dry):
        removed = template_reset(ROOT, ex, plan)
    say(f"{'would remove' if ex.dry else 'removed'} {len(removed)} generated files")
