"""Every task has help text; bad option values are refused with a message, never a traceback."""

from __future__ import annotations

import json

import pytest


def all_tasks(project) -> list[str]:
    listing = json.loads(project.inv("--list", "--list-format", "json").stdout)
    names = [task["name"] for task in listing["tasks"]]
    for collection in listing["collections"]:
        names += [f"{collection['name']}.{task['name']}" for task in collection["tasks"]]
    return names


@pytest.mark.slow
def test_every_task_has_help(project):
    names = all_tasks(project)
    assert {"init", "configure", "validate", "doctor", "reconcile", "status", "bootstrap.talos", "bootstrap.apps",
            "talos.upgrade", "infra.plan", "template.vars"} <= set(names)
    for name in names:
        result = project.inv("--help", name)
        assert result.returncode == 0, name
        docstring = result.stdout.split("Docstring:", 1)[1].split("Options:", 1)[0].strip()
        assert len(docstring) > 20, f"{name} has no help text"


@pytest.mark.parametrize("args, message", [
    (("talos.upgrade", "--gate-timeout", "abc"), "--gate-timeout must be a number"),
    (("talos.upgrade", "--max-parallel", "0"), "--max-parallel must be at least 1"),
    (("talos.upgrade", "--max-parallel", "two"), "--max-parallel must be a whole number"),
    (("talos.upgrade-node", "--ip", "10.0.0.1", "--drain-timeout", "-5"), "--drain-timeout must be greater than 0"),
    (("bootstrap.talos", "--parallel", "x"), "--parallel must be a whole number"),
    (("reconcile", "--timeout", "soon"), "--timeout must be a number"),
])
def test_bad_option_values_are_refused_cleanly(project, args, message):
    result = project.inv(*args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout
