"""helmfile: render the bootstrap CRDs and sync the bootstrap releases."""

from __future__ import annotations

from pathlib import Path

from ..run import CommandResult, Executor

SYNC_TIMEOUT = 1800.0
# Seconds helmfile (and the helm processes it runs) get after SIGINT/SIGTERM to record the
# releases' status, instead of leaving them `pending-install` for the next sync to trip over.
STOP_GRACE = 30.0


class Helmfile:
    def __init__(self, ex: Executor, kubeconfig: Path):
        self.ex = ex
        self.kubeconfig = kubeconfig

    def _env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def template(self, helmfile: Path) -> str:
        """The rendered manifests of every release in `helmfile` (nothing is installed)."""
        result = self.ex.run(["helmfile", "--file", str(helmfile), "template", "--quiet"], readonly=True,
                             env=self._env(), timeout=600)
        return result.stdout

    def sync(self, helmfile: Path) -> CommandResult:
        return self.ex.run(["helmfile", "--file", str(helmfile), "sync", "--hide-notes"], readonly=False,
                           env=self._env(), timeout=SYNC_TIMEOUT, stop_grace=STOP_GRACE)
