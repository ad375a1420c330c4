"""What the validator reports: one `ValidationIssue` per problem, gathered in a `ValidationReport`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import ClusterTemplateError

# Where an issue points when it comes out of `kubectl kustomize` and no source file could be
# matched to the object (generated ConfigMaps, renamed objects).
BUILD_ORIGIN = "kustomize build"


@dataclass(frozen=True, order=True)
class ValidationIssue:
    """One problem, located as precisely as the check allows.

    `file` is relative to the validated root (for an object that only exists in kustomize output it
    is the built directory and `origin` says so). `index` is the document's position in that file
    (or in the build output). `path` is the location inside the document, dotted with list indexes
    (`spec.values.foo`, `spec.template.spec.containers[0].image`); empty for the whole document.
    """

    file: str
    index: int | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    path: str = ""
    message: str = ""
    origin: str | None = None

    @property
    def location(self) -> str:
        where = self.file if self.origin is None else f"{self.file} ({self.origin})"
        return where if self.index is None else f"{where}[{self.index}]"

    @property
    def subject(self) -> str:
        """`Kind namespace/name`, as much of it as is known."""
        if self.kind is None and self.name is None:
            return ""
        if self.name is None:
            return self.kind or ""
        ident = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '<no kind>'} {ident}"

    def __str__(self) -> str:
        head = self.location
        if self.subject:
            head = f"{head} {self.subject}"
        return f"{head}: {self.path}: {self.message}" if self.path else f"{head}: {self.message}"


@dataclass
class ValidationReport:
    """Everything one run found. `counts` says how many documents of each kind were checked."""

    errors: list[ValidationIssue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def checked(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: how much was checked and how many problems were found."""
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.counts.items()))
        verdict = "no errors" if self.ok else f"{len(self.errors)} error(s)"
        return f"checked {self.checked} document(s) ({kinds}): {verdict}"


class IssueCollector:
    """Accumulates issues (dropping exact repeats, e.g. one shared component built into several
    namespaces) and per-kind document counts."""

    def __init__(self) -> None:
        self._issues: dict[tuple, ValidationIssue] = {}
        self.counts: Counter[str] = Counter()

    def add(self, issue: ValidationIssue) -> None:
        # The namespace is left out of the key: the same source document built into several
        # namespaces has one mistake, not several.
        key = (issue.file, issue.origin, issue.index, issue.kind, issue.name, issue.path, issue.message)
        self._issues.setdefault(key, issue)

    def extend(self, issues) -> None:
        for issue in issues:
            self.add(issue)

    def count(self, kind: str) -> None:
        self.counts[kind] += 1

    def report(self, redact: Callable[[str], str] | None = None) -> ValidationReport:
        """The issues in file order; `redact` masks secret values in messages (a message may quote
        a value of a not-yet-encrypted Secret)."""
        ordered = sorted(self._issues.values(), key=_sort_key)
        if redact is not None:
            ordered = [replace(issue, message=redact(issue.message)) for issue in ordered]
        return ValidationReport(errors=ordered, counts=dict(sorted(self.counts.items())))


def _sort_key(issue: ValidationIssue) -> tuple:
    return (issue.file, issue.origin or "", -1 if issue.index is None else issue.index, issue.path, issue.message)


class ValidationSetupError(ClusterTemplateError):
    """The validator itself cannot run as asked (schema folder missing, Kubernetes version not
    shipped by kubernetes-validate). This is about the setup, not about the validated tree."""
