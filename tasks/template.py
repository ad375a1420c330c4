"""The `template` namespace: inspect the template context and generate the config JSON Schemas."""

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
