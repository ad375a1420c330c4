"""`inv template.reset` and `inv template.tidy`: the seed's two template chores, adapted to this layout.

reset — remove what `inv configure` and `inv talos.generate-config` generated, so the next
configure starts from nothing. The seed ran `rm -rf bootstrap infrastructure kubernetes talos
.sops.yaml`, which also deleted files it had not generated (the Talos secrets bundle, a Terraform
working directory, anything the operator had added). Here only generated files go:

  - every file listed in `.generated-files` (the manifest configure keeps), then the manifest;
  - the files in `talos/clusterconfig/` (the machine configs and the talosconfig client file,
    which `inv talos.generate-config` recreates from the bundle);
  - folders left empty by that.

Never removed, even when listed: `cluster.yaml`, `nodes.yaml`, the age key, the deploy key, the push
token, the tunnel credentials, `kubeconfig` and `talos/talsecret.sops.yaml` (the cluster's PKI:
losing it means rebuilding the cluster). A manifest entry that leaves the repository is refused.

tidy — for a clone that is done with templating and maintains its rendered trees by hand (as the
seed's `template:tidy` intended). It moves, never deletes, into `.private/<unix time>/` (same
relative paths):

  - `templates/` (the Jinja2 templates, samples and schemas),
  - `cluster.yaml` and `nodes.yaml`,
  - `tasks/template.py` (the template namespace),
  - `tasks.py`, whose copy in place is rewritten without the template namespace and without the
    root tasks that render from `templates/` (`init`, `configure`): the seed dropped those with its
    template Taskfile too.

Everything else keeps working: the day-2 tasks read the node inventory from the rendered
`talos/talconfig.yaml` once nodes.yaml is gone. The archive holds a `RESTORE.txt` with the moves
that undo the tidy; `.private/` should be git-ignored (cluster.yaml holds credentials).
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ClusterTemplateError
from ..outputs import MANIFEST_FILE, prune_empty_parents, read_manifest
from ..run import Executor
from .talos_config import OUTPUT_DIR

PRIVATE_DIR = ".private"
TIDY_PARTS = ("templates", "cluster.yaml", "nodes.yaml", "tasks/template.py")
TASKS_FILE = "tasks.py"
# Lines of tasks.py that wire what tidy archives (the template namespace) or what needs templates/.
_DROPPED_LINES = (
    re.compile(r"^\s*ns\.add_collection\(\s*Collection\.from_module\(\s*template\s*\)\s*\)\s*(#.*)?$"),
    re.compile(r"^\s*ns\.add_task\(\s*core\.(init|configure)\s*\)\s*(#.*)?$"),
)
_IMPORT_LINE = re.compile(r"^(?P<head>\s*from\s+tasks\s+import\s+)(?P<names>[\w\s,]+?)(?P<tail>\s*(#.*)?)$")


class TemplateChoreRefused(ClusterTemplateError):
    """tidy or reset cannot proceed safely; nothing was changed."""


# -- reset --------------------------------------------------------------------------------------


@dataclass
class ResetPlan:
    files: list[str] = field(default_factory=list)  # relative paths to remove, in order


def plan_template_reset(root: Path) -> ResetPlan:
    plan = ResetPlan()
    for relative in read_manifest(root):  # refuses any entry that is not a file configure generates
        if (root / relative).is_file() or (root / relative).is_symlink():
            plan.files.append(relative)
    clusterconfig = root / OUTPUT_DIR
    if clusterconfig.is_dir():
        plan.files += sorted(str(path.relative_to(root)) for path in clusterconfig.rglob("*")
                             if path.is_file() or path.is_symlink())
    if (root / MANIFEST_FILE).is_file():
        plan.files.append(MANIFEST_FILE)
    plan.files = list(dict.fromkeys(plan.files))
    return plan


def template_reset(root: Path, ex: Executor, plan: ResetPlan) -> list[str]:
    """Remove the planned files and the folders they leave empty; returns what was removed."""
    removed = []
    for relative in plan.files:
        if ex.remove(root / relative, label=relative):
            removed.append(relative)
    if not ex.dry:
        for relative in removed:
            prune_empty_parents(root, (root / relative).parent)
    return removed


# -- tidy ---------------------------------------------------------------------------------------


@dataclass
class TidyPlan:
    archive: str  # relative: .private/<unix time>
    moves: list[tuple[str, str]]  # (relative source, relative target)
    tasks_text: str  # the new tasks.py


def plan_tidy(root: Path, *, now: float | None = None) -> TidyPlan:
    """Check that tidy can run and what it will do; TemplateChoreRefused before anything changes."""
    missing = [part for part in TIDY_PARTS if not (root / part).exists()]
    if "templates" in missing or "tasks/template.py" in missing:
        raise TemplateChoreRefused("templates/ or tasks/template.py is missing: the template was already tidied "
                                   f"(see {PRIVATE_DIR}/)")
    tasks_path = root / TASKS_FILE
    if not tasks_path.is_file():
        raise TemplateChoreRefused(f"{TASKS_FILE} not found")
    archive = f"{PRIVATE_DIR}/{int(now if now is not None else time.time())}"
    if (root / archive).exists():
        raise TemplateChoreRefused(f"{archive} already exists; try again in a second")
    moves = [(part, f"{archive}/{part}") for part in TIDY_PARTS if part not in missing]
    return TidyPlan(archive, moves, untemplated_tasks(tasks_path.read_text()))


def untemplated_tasks(text: str) -> str:
    """tasks.py without the template namespace and the tasks that render from templates/.
    Refused when a reference to the template module would be left behind (a layout this does not
    know), so tidy never leaves an `inv` that cannot start."""
    lines = []
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if any(pattern.match(stripped) for pattern in _DROPPED_LINES):
            continue
        match = _IMPORT_LINE.match(stripped)
        if match:
            names = [name.strip() for name in match["names"].split(",") if name.strip()]
            if "template" in names:
                kept = [name for name in names if name != "template"]
                if not kept:
                    continue
                line = f"{match['head']}{', '.join(kept)}{match['tail']}\n"
        lines.append(line)
    result = "".join(lines)
    try:
        tree = ast.parse(result, TASKS_FILE)
    except SyntaxError as error:
        raise TemplateChoreRefused(f"rewriting {TASKS_FILE} would break it ({error}); nothing was changed") from None
    if any(_uses_template(node) for node in ast.walk(tree)):
        raise TemplateChoreRefused(f"{TASKS_FILE} uses the template namespace in a way tidy does not know how to "
                                   "remove; nothing was changed")
    return result


def _uses_template(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "template"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any(alias.name.split(".")[-1] == "template" for alias in node.names)
    return False


def tidy(root: Path, ex: Executor, plan: TidyPlan) -> None:
    """Archive, then rewrite tasks.py; the original tasks.py is archived first."""
    archive = root / plan.archive
    ex.write_file(archive / TASKS_FILE, (root / TASKS_FILE).read_bytes(), label=f"{plan.archive}/{TASKS_FILE}")
    for source, target in plan.moves:
        ex.move(root / source, root / target, label=f"{source} -> {target}")
    ex.write_file(archive / "RESTORE.txt", restore_instructions(plan), label=f"{plan.archive}/RESTORE.txt")
    ex.write_file(root / TASKS_FILE, plan.tasks_text, label=TASKS_FILE)


def restore_instructions(plan: TidyPlan) -> str:
    lines = [
        "# `inv template.tidy` moved these files here. To undo it, from the repository root:",
        *(f"mv {target} {source}" for source, target in plan.moves),
        f"cp {plan.archive}/{TASKS_FILE} {TASKS_FILE}",
        "",
    ]
    return "\n".join(lines)
