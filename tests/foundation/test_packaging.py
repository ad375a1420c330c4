"""Reproducible installs: every dependency range is capped, the constraints file pins each one to a
version inside its range, and the Makefile installs through that file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
CONSTRAINTS = REPO / "requirements" / "constraints.txt"


def requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    listed = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return [req for req in map(Requirement, listed) if canonicalize_name(req.name) != "cluster-template"]


def pins() -> dict[str, Version]:
    found = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[0-9A-Za-z.+!-]+", version), f"not an exact pin: {line!r}"
        found[canonicalize_name(name)] = Version(version)
    return found


def test_every_dependency_range_stops_before_the_next_major():
    uncapped = [str(req) for req in requirements()
                if not any(spec.operator in ("<", "==", "<=") for spec in req.specifier)]
    assert uncapped == []


def test_the_constraints_pin_every_dependency_inside_its_range():
    pinned = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in {CONSTRAINTS.name}; run `make lock`"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"{req.name}=={pinned[name]} is outside {req.specifier}; run `make lock`"


def test_make_installs_through_the_constraints():
    makefile = (REPO / "Makefile").read_text()
    installs = [line.strip() for line in makefile.splitlines() if "pip install" in line and "-e '." in line]
    lock_venv = [line for line in installs if "LOCK_VENV" in line]
    assert len(lock_venv) == 1, "`make lock` resolves afresh"
    assert installs and all("-c $(CONSTRAINTS)" in line for line in installs if line not in lock_venv)
    assert "CONSTRAINTS := requirements/constraints.txt" in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_license_is_an_spdx_expression_the_build_backend_reads():
    assert PYPROJECT["project"]["license"] == "MIT"
    (backend,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    # PEP 639 license expressions are read from setuptools 77 on.
    assert not backend.specifier.contains("76.9") and backend.specifier.contains("77.0")
