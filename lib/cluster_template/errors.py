"""Typed errors. Tasks turn any `ClusterTemplateError` into one clear message and a non-zero exit."""

from __future__ import annotations

from dataclasses import dataclass


class ClusterTemplateError(Exception):
    """Base class for every error a user may see. `str(err)` is the message to print."""

    exit_code = 1


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file, located as precisely as the loader allows."""

    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(ClusterTemplateError):
    """The configuration is invalid. Carries every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class CommandError(ClusterTemplateError):
    """A subprocess failed. The command line and stderr tail are already redacted."""

    def __init__(self, command: str, returncode: int, stderr_tail: str):
        self.command = command
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        message = f"command failed with exit code {returncode}: {command}"
        if stderr_tail:
            message += "\n" + "\n".join(f"  | {line}" for line in stderr_tail.splitlines())
        super().__init__(message)


class CommandTimeout(CommandError):
    """A subprocess ran past its deadline and was killed."""

    def __init__(self, command: str, timeout: float, stderr_tail: str):
        self.timeout = timeout
        super().__init__(command, -1, stderr_tail)
        self.args = (f"command timed out after {timeout:g}s: {command}",)

    def __str__(self) -> str:
        return self.args[0]


class ToolNotFound(ClusterTemplateError):
    """A required command-line tool is not on PATH."""

    def __init__(self, tool: str):
        self.tool = tool
        super().__init__(
            f"'{tool}' was not found on PATH. Install the pinned tools with `mise install` "
            f"(see .mise.toml), then run the command again."
        )


class Refused(ClusterTemplateError):
    """The operator declined a confirmation, or none could be asked for."""

    exit_code = 3


class Busy(ClusterTemplateError):
    """Another mutating task holds the project lock."""

    exit_code = 4
