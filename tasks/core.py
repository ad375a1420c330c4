"""Root tasks: init and configure."""

from __future__ import annotations

from invoke import task

from ._cli import ROOT, confirm, executor, live_run_in_progress, project_lock, say, user_errors

SAMPLES = ROOT / "templates" / "samples"


@task
@user_errors
def init(c):
    """Create cluster.yaml and nodes.yaml from the samples, an age key, a deploy key and a push token.

    Each file is created only if it is missing, so running init again changes nothing."""
    from cluster_template import keys
    from cluster_template.inputs import AGE_KEY_FILE, DEPLOY_KEY_FILE, PUSH_TOKEN_FILE

    ex = executor(c)
    with project_lock(ex.dry, settle_required=False):
        created = []
        for name in ("cluster.yaml", "nodes.yaml"):
            if not (ROOT / name).exists():
                ex.write_file(ROOT / name, (SAMPLES / name.replace(".yaml", ".sample.yaml")).read_bytes(), label=name)
                created.append(name)
        if not (ROOT / AGE_KEY_FILE).exists():
            ex.write_file(ROOT / AGE_KEY_FILE, keys.new_age_key(), mode=0o600, label=AGE_KEY_FILE)
            created.append(AGE_KEY_FILE)
        if not (ROOT / DEPLOY_KEY_FILE).exists():
            private, public = keys.new_deploy_key()
            ex.write_file(ROOT / DEPLOY_KEY_FILE, private, mode=0o600, label=DEPLOY_KEY_FILE)
            ex.write_file(ROOT / f"{DEPLOY_KEY_FILE}.pub", public, label=f"{DEPLOY_KEY_FILE}.pub")
            created.append(DEPLOY_KEY_FILE)
        if not (ROOT / PUSH_TOKEN_FILE).exists():
            ex.write_file(ROOT / PUSH_TOKEN_FILE, keys.new_push_token(), mode=0o600, label=PUSH_TOKEN_FILE)
            created.append(PUSH_TOKEN_FILE)
    verb = "would create" if ex.dry else "created"
    say(f"{verb}: {', '.join(created)}" if created else "nothing to do: every file already exists")
    if "cluster.yaml" in created and not ex.dry:
        say("next: edit cluster.yaml and nodes.yaml, then run `inv configure`")


@task(help={"yes": "Do not ask before overwriting generated files (for scripts).",
            "force": "Render, encrypt and validate even when nothing changed since the last run.",
            "timings": "Print how long each stage took (for benchmarks and slow-run reports)."})
@user_errors
def configure(c, yes=False, force=False, timings=False):
    """Render cluster.yaml + nodes.yaml into kubernetes/, talos/, bootstrap/ and .sops.yaml.

    Validates the configuration, derives the template context, renders the templates, encrypts every
    *.sops.* output with sops, validates the result, and only then swaps it into place. With
    `inv --dry configure` it lists what would change and writes nothing. When no input, template or
    output changed since the last successful run, it says so and stops (`--force` runs anyway)."""
    import time

    started = time.perf_counter()
    from cluster_template.fingerprint import inputs_digest, is_up_to_date

    digest = None if force else inputs_digest(ROOT)  # the run below reuses it
    if not force and is_up_to_date(ROOT, digest):
        say("up to date: no input, template or output changed since the last configure (--force to re-run)")
        if timings:
            _say_timings({"up-to-date check": time.perf_counter() - started}, time.perf_counter() - started)
        return
    checked = time.perf_counter()

    from cluster_template.ops.configure import configure as run_configure
    from cluster_template.ops.validation import as_configure_check
    from cluster_template.stopwatch import Stopwatch

    watch = Stopwatch()
    watch.add("up-to-date check", checked - started)
    watch.add("imports", time.perf_counter() - checked)
    ex = executor(c)

    def ask(plan) -> bool:
        existing = len(plan.update) + len(plan.remove)
        if not existing:
            return True
        return confirm(f"{existing} generated file(s) will be overwritten or removed. Continue?", yes)

    with project_lock(ex.dry, replan=True):
        # A dry run takes no lock; a live run's staging directory is its own business.
        live = ex.dry and live_run_in_progress()
        if live:
            ex.note("a running `inv configure` is using its staging directory; this plan leaves it alone")
        result = run_configure(ROOT, ex, confirm=ask, validate_output=as_configure_check(ex), settle=not live,
                               stopwatch=watch, inputs_digest=digest)
    if result.recovered:
        say(result.recovered)
    if result.validation_summary:
        say(result.validation_summary)
    say(_summary(result.plan, ex.dry))
    if timings:
        _say_timings(result.timings, time.perf_counter() - started)


def _say_timings(stages: dict[str, float], total: float) -> None:
    width = max(len(name) for name in [*stages, "total in the task"])
    say("timings (seconds):")
    for name, seconds in stages.items():
        say(f"  {name:<{width}}  {seconds:.3f}")
    say(f"  {'total in the task':<{width}}  {total:.3f}")


def _summary(plan, dry: bool) -> str:
    counts = f"create {len(plan.create)}, update {len(plan.update)}, remove {len(plan.remove)}"
    if dry:
        return f"dry run: would {counts}; {len(plan.unchanged)} unchanged; nothing was written"
    return f"done: {counts}; {len(plan.unchanged)} unchanged"


@task
@user_errors
def validate(c):
    """Validate the rendered tree offline: YAML, Kubernetes 1.35 and CRD schemas (strict), kustomize
    builds of every Flux Kustomization path with post-build substitution, the Flux dependency graph,
    the Talos inputs, and the guards: no credential outside *.sops.* files, pinned chart and image
    versions, no file under kubernetes/ that Flux never applies. `inv configure` runs the same checks before swapping outputs in."""
    from invoke import Exit

    from cluster_template import outputs
    from cluster_template.errors import ClusterTemplateError
    from cluster_template.ops.validation import validate_repository

    pending = outputs.pending_swap(ROOT)
    if pending:  # validating a half-swapped tree would report a mix that no configure produced
        raise ClusterTemplateError(f"{pending}; nothing was validated")
    report = validate_repository(ROOT, executor(c))
    for issue in report.errors:
        say(str(issue))
    say(report.summary())
    if not report.ok:
        raise Exit(code=1)


@task
@user_errors
def doctor(c):
    """Check the operator tools against the versions pinned in .mise.toml, and the local files
    (age.key, .sops.yaml, cluster.yaml, nodes.yaml). Exits 1 when anything needs attention."""
    from invoke import Exit

    from cluster_template.ops.doctor import doctor as run_doctor

    report = run_doctor(ROOT, executor(c))
    width = max(len(tool.command) for tool in report.tools)
    say("tools:")
    for tool in report.tools:
        mark = "ok " if tool.ok else "!! "
        found = tool.found or "-"
        say(f"  {mark}{tool.command:<{width}}  found {found:<10} pinned {tool.pinned or '-':<10} {tool.problem}")
    say("files:")
    for item in report.files:
        say(f"  {'ok ' if item.ok else '!! '}{item.name}: {item.detail}")
    if not report.ok:
        raise Exit("doctor found problems (marked !!)", code=1)
