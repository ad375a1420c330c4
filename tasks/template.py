"""The `template` namespace: inspect the template context and generate the config JSON Schemas."""

from __future__ import annotations

from invoke import task

from ._cli import ROOT, executor, say, user_errors

SCHEMA_DIR = ROOT / "templates" / "schemas"


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
    """Write JSON Schemas for cluster.yaml and nodes.yaml (generated from the model) for editor completion."""
    from cluster_template.config.schema import schema_files

    ex = executor(c)
    for name, text in schema_files().items():
        action = ex.write_file(SCHEMA_DIR / name, text, label=f"templates/schemas/{name}")
        say(f"{action}: templates/schemas/{name}")
