"""`inv configure`: validate config → derive → render → encrypt → validate output → swap in.

Nothing in the working tree changes until every step has succeeded and the operator (or `--yes`)
has agreed; see `outputs` for how the swap stays all-or-nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import fingerprint, outputs, secretrecord
from ..config.load import Config, load_config
from ..config.model import secret_keys
from ..derive import derive
from ..errors import ClusterTemplateError, Refused
from ..inputs import AGE_KEY_FILE, LocalInputs, read_local_inputs
from ..render import render_templates
from ..run import Executor
from ..safepath import inside
from ..secrets import SOPS_CONFIG, encrypt_outputs, is_secret_path
from ..stopwatch import Stopwatch, stage
from ..validate.leaks import find_leaks
from .validation import CACHE_DIR

TEMPLATE_DIR = Path("templates") / "config"

# Checks the staged tree (given the credential values no file outside *.sops.* may hold); returns a
# list of problems (empty when valid) and a one-line summary. It records its own stages in the
# stopwatch it is given.
OutputValidator = Callable[[Path, tuple[str, ...], Stopwatch | None], tuple[list[str], str]]


class OutputInvalid(ClusterTemplateError):
    """The rendered output failed validation; nothing was changed."""


@dataclass(frozen=True)
class ConfigureResult:
    plan: outputs.OutputPlan
    validation_summary: str = ""
    recovered: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, in run order


def register_config_secrets(ex: Executor, config: Config) -> None:
    """Make every credential in the configuration known to the redactor."""
    cluster = config.cluster
    ex.redactor.add(*(getattr(cluster, key) for key in secret_keys(type(cluster))))


def load_inputs(root: Path, ex: Executor) -> tuple[Config, LocalInputs]:
    """Load and validate the configuration and local inputs; their credentials go to the redactor."""
    config = load_config(root)
    register_config_secrets(ex, config)
    local = read_local_inputs(root, deploy_key_required=config.cluster.repository_visibility == "private")
    ex.redactor.add(*local.secrets())
    return config, local


def credentials(config: Config, local: LocalInputs) -> tuple[str, ...]:
    """Every credential value: the configuration's secret keys and the local secrets."""
    cluster = config.cluster
    values = (getattr(cluster, key) for key in secret_keys(type(cluster)))
    return tuple(value for value in values if isinstance(value, str)) + local.secrets()


def build_context(root: Path, ex: Executor) -> tuple[Config, dict[str, Any]]:
    """Load and validate the configuration and local inputs; return the template context."""
    config, local = load_inputs(root, ex)
    return config, derive(config, local)


def configure(
    root: Path,
    ex: Executor,
    *,
    confirm: Callable[[outputs.OutputPlan], bool],
    validate_output: OutputValidator | None = None,
    settle: bool = True,
    stopwatch: Stopwatch | None = None,
    inputs_digest: str | None = None,
) -> ConfigureResult:
    watch = stopwatch or Stopwatch()
    state_file = inside(root, fingerprint.STATE_FILE)  # refused now, not after the swap
    compiled = inside(root, CACHE_DIR / "jinja")  # never written through a symlink leading out
    with stage(watch, "recover + input digest"):
        recovered = outputs.recover(ex, root, replan=True) if settle else None
        # Taken before the inputs are read (by the caller's up-to-date check, or here): an edit during
        # the run is seen next time.
        inputs_digest = inputs_digest or fingerprint.inputs_digest(root)
    with stage(watch, "config load + derive"):
        config, local = load_inputs(root, ex)
        context = derive(config, local)
        secrets = credentials(config, local)
    with stage(watch, "render"):
        rendered = render_templates(root / TEMPLATE_DIR, context, cache_dir=compiled,
                                    write_cache=not ex.dry)
    with stage(watch, "credential guard"):
        state = fingerprint.read_state(root)
        record_key = secretrecord.record_key(local.age_private_key)
        searched_for = secretrecord.credentials_digest(record_key, secrets)
        leaks = find_leaks(secretrecord.unsearched(rendered, state.get(secretrecord.SEARCHED_KEY), searched_for),
                           secrets)
    if leaks:  # checked on the plaintext, before anything is encrypted, staged or written
        raise OutputInvalid(_invalid(leaks))
    with stage(watch, "encrypt"):
        secret_paths = sorted(path for path in rendered if is_secret_path(path))
        sops_rules = rendered.get(SOPS_CONFIG, b"")
        previous = state.get(secretrecord.STATE_KEY)
        known = secretrecord.compare(root, previous, record_key, rendered, secret_paths, sops_rules)
        files = encrypt_outputs(
            ex, root, {path: content for path, content in rendered.items() if path not in known.kept},
            age_public_key=context["age_public_key"], age_key_file=root / AGE_KEY_FILE, known_changed=known.changed,
        )
        files.update(known.kept)
    with stage(watch, "plan"):
        plan = outputs.plan_outputs(root, files)
    if ex.dry:
        _report_plan(ex, plan)
        return ConfigureResult(plan, recovered=recovered, timings=watch.stages)

    with stage(watch, "stage"):
        staging = outputs.stage(ex, root, files, unchanged=plan.unchanged)
    summary = ""
    try:
        if validate_output is not None:
            # No credentials to look for again: the guard above read these same bytes (every file
            # outside *.sops.* is staged exactly as rendered).
            problems, summary = validate_output(staging, (), watch)
            if problems:
                raise OutputInvalid(_invalid(problems))
        if plan.changed and not confirm(plan):
            raise Refused("configure cancelled; nothing was changed")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with stage(watch, "swap"):
        outputs.commit(ex, root, plan)
        written = fingerprint.written_outputs_digest(outputs.manifest_text(plan.manifest).encode(), files)
        state = {"inputs": inputs_digest, "outputs": written,
                 secretrecord.SEARCHED_KEY: secretrecord.searched(rendered, searched_for),
                 secretrecord.STATE_KEY: secretrecord.record(record_key, rendered, files, secret_paths, sops_rules,
                                                             previous)}
        ex.write_file(state_file, json.dumps(state, indent=1) + "\n",
                      label=str(fingerprint.STATE_FILE), quiet=True)
    return ConfigureResult(plan, summary, recovered, watch.stages)


def _invalid(problems: list) -> str:
    return (f"the rendered output is invalid ({len(problems)} problem(s)); nothing was changed:\n"
            + "\n".join(f"  {problem}" for problem in problems))


def _report_plan(ex: Executor, plan: outputs.OutputPlan) -> None:
    for path in plan.create:
        ex.note(f"would create: {path}")
    for path in plan.update:
        ex.note(f"would update: {path}")
    for path in plan.remove:
        ex.note(f"would remove: {path}")
