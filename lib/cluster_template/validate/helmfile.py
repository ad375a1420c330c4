"""Helmfile files (`bootstrap/helmfile.d/*.yaml`, `bootstrap/helmfile/*.yaml`): not Kubernetes objects.

They are checked for what helmfile itself refuses without a cluster: a document that is not a
mapping, a top-level key helmfile does not know (it decodes strictly), and releases without a name.
"""

from __future__ import annotations

from typing import Any

from .issues import ValidationIssue
from .schemas import format_path

HELMFILE_DIRECTORIES = ("bootstrap/helmfile.d/", "bootstrap/helmfile/")
# Top-level keys of helmfile's state file (pkg/state/state.go, helmfile v1).
HELMFILE_FIELDS = frozenset({
    "apiVersions", "bases", "chart", "commonLabels", "defaultInherit", "environments", "helmBinary",
    "helmDefaults", "helmfiles", "hooks", "ignoreMissingGitBranch", "kubeContext", "kubeVersion",
    "kustomizeBinary", "llm", "lockFilePath", "missingFileHandler", "missingFileHandlerConfig", "namespace",
    "releases", "repositories", "templates", "values",
})
KIND_LABEL = "helmfile"


def is_helmfile(rel: str) -> bool:
    return rel.startswith(HELMFILE_DIRECTORIES)


def check_helmfile(rel: str, index: int, doc: Any) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []

    def problem(path: list, message: str) -> None:
        issues.append(ValidationIssue(rel, index, KIND_LABEL, path=format_path(path), message=message))

    if not isinstance(doc, dict):
        problem([], f"a helmfile document must be a mapping, not {type(doc).__name__}")
        return issues
    for key in doc:
        if key not in HELMFILE_FIELDS:
            problem([str(key)], f"unknown helmfile field {key!r}")
    releases = doc.get("releases", [])
    if not isinstance(releases, list):
        problem(["releases"], "releases must be a list")
        return issues
    for i, release in enumerate(releases):
        if not isinstance(release, dict):
            problem(["releases", i], "a release must be a mapping")
        elif not isinstance(release.get("name"), str) or not release["name"]:
            problem(["releases", i, "name"], "a release needs a name")
    return issues
