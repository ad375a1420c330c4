"""`inv template.vars --json` shows every derived variable SEED.md lists, with real booleans for flags."""

from __future__ import annotations

import json
import re

import pytest

from ..conftest import SHARED

SEED = SHARED / "spec" / "SEED.md"


def seed_derived_variables() -> list[str]:
    text = SEED.read_text()
    section = text.split("Derived Variables", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^- `([a-z0-9_]+)`", section, flags=re.MULTILINE)


@pytest.mark.skipif(not SEED.is_file(), reason="the spec (../shared/spec/SEED.md) is not beside the repository")
def test_every_seed_derived_variable_is_in_the_context(initialized):
    names = seed_derived_variables()
    assert len(names) > 50
    result = initialized.inv("template.vars", "--json")
    assert result.returncode == 0, result.stderr
    context = json.loads(result.stdout)
    missing = [name for name in names if name not in context]
    assert not missing, missing
    for name in names:
        if name.endswith("_enabled"):
            assert isinstance(context[name], bool), f"{name} is {context[name]!r}, not a boolean"
