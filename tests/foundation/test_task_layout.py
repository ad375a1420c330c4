"""`tasks.py` and `tasks/` are one package (see tasks.py): invoke's own loader and mypy must read them so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: the test process may already have imported another `tasks`.
LOAD = """
import json, sys
from invoke.config import Config
from invoke.loader import FilesystemLoader
from invoke import Collection
module, parent = FilesystemLoader(start=sys.argv[1], config=Config()).load()
from tasks import core
namespace = Collection.from_module(module)
print(json.dumps({"module": module.__file__, "parent": parent, "core": core.__file__,
                  "collections": sorted(namespace.collections), "tasks": sorted(namespace.tasks)}))
"""


def test_invokes_loader_reads_tasks_py_as_the_package_of_the_tasks_folder():
    result = subprocess.run([sys.executable, "-c", LOAD, str(REPO)], capture_output=True, text=True, timeout=60,
                            cwd=REPO / "tests", check=False,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})  # no __pycache__ in the checkout
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert Path(loaded["module"]) == REPO / "tasks.py" and Path(loaded["parent"]) == REPO
    assert Path(loaded["core"]) == REPO / "tasks" / "core.py"
    assert {"bootstrap", "infra", "talos", "template"} <= set(loaded["collections"])
    assert {"init", "configure", "status"} <= set(loaded["tasks"])


def test_mypy_checks_tasks_py_and_the_tasks_folder_as_one_package():
    # Imports are not followed, so this checks the layout in seconds; `make test` checks everything.
    result = subprocess.run([sys.executable, "-m", "mypy", "--follow-imports=skip", "--cache-dir=/dev/null",
                             "tasks.py", "tasks"], capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), output  # 2: mypy could not check at all (a duplicate module, ...)
    modules = 1 + len(list((REPO / "tasks").glob("*.py")))
    assert f"{modules} source files" in output, output
