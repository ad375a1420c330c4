"""Errors raised while generating Talos secrets, machine configs and the talosconfig."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ClusterTemplateError, ConfigError, ConfigIssue


class TalosYamlError(ClusterTemplateError):
    """A YAML text (bundle, patch, machine config) could not be parsed."""

    def __init__(self, source: str, detail: str):
        self.source = source
        self.detail = detail
        super().__init__(f"{source}: invalid YAML: {detail}")


@dataclass(frozen=True)
class BundleProblem:
    """One missing or unusable field of a secrets bundle, named by its YAML path (`certs.os.key`)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SecretsBundleError(ClusterTemplateError):
    """The secrets bundle is incomplete or holds a value that cannot be used. Lists every problem."""

    def __init__(self, problems: list[BundleProblem]):
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"the Talos secrets bundle is invalid:\n{lines}")

    @property
    def fields(self) -> list[str]:
        """The YAML paths of the bad fields, in the order they were found."""
        return [problem.field for problem in self.problems]


class TalconfigError(ConfigError):
    """`talconfig.yaml` uses a key outside the supported subset, or a value of the wrong shape."""

    def __init__(self, issues: list[ConfigIssue]):
        super().__init__(issues)

    @property
    def keys(self) -> list[str]:
        """The offending key paths (`nodes[1].installDisk`), in the order they were found."""
        return [issue.key for issue in self.issues]


class PatchError(ClusterTemplateError):
    """A config patch could not be read or applied. `origin` names the patch (`nodes[0].patches[1]`)."""

    def __init__(self, origin: str, message: str):
        self.origin = origin
        self.detail = message
        super().__init__(f"config patch {origin}: {message}")
