"""`inv template.vars --json` shows every derived variable the seed computes (the list in fixtures/, from
the spec), with real booleans for flags."""

from __future__ import annotations

import json
from pathlib import Path

SEED_VARIABLES = Path(__file__).parent / "fixtures" / "seed_derived_variables.txt"


def seed_derived_variables() -> list[str]:
    lines = SEED_VARIABLES.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


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
