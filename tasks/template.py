"""The `template` namespace: inspect the template context and generate the config JSON Schemas."""

from __future__ import annotations

from invoke import task

from ._cli import ROOT, executor, say, user_errors

REFERENCE = "docs/CONFIGURATION.md"


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
    completion; the samples reference them) and docs/CONFIGURATION.md."""
    from cluster_template.config.reference import configuration_reference
    from cluster_template.config.schema import schema_files

    ex = executor(c)
    generated = {f"templates/schemas/{name}": text for name, text in schema_files().items()}
    generated[REFERENCE] = configuration_reference()
    for relative, text in generated.items():
        action = ex.write_file(ROOT / relative, text, label=relative)
        say(f"{action}: {relative}")
