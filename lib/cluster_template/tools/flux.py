"""flux: reconcile and status. `flux get` has no machine-readable output, so its table is parsed."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CommandError
from ..run import CommandResult, Executor
from .output import table

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class FluxObject:
    kind: str
    namespace: str
    name: str
    ready: str  # True | False | Unknown
    suspended: bool
    revision: str
    message: str

    @property
    def is_ready(self) -> bool:
        return self.ready == "True"


class Flux:
    def __init__(self, ex: Executor, kubeconfig, *, timeout: float = DEFAULT_TIMEOUT):
        self.ex = ex
        self.kubeconfig = kubeconfig
        self.timeout = timeout

    def argv(self, *args: str) -> list[str]:
        return ["flux", "--kubeconfig", str(self.kubeconfig), *args]

    def reconcile_kustomization(self, name: str, namespace: str = "flux-system", *, with_source: bool = True,
                                timeout: str = "5m") -> CommandResult:
        args = ["reconcile", "kustomization", name, "--namespace", namespace, "--timeout", timeout]
        if with_source:
            args.append("--with-source")
        return self.ex.run(self.argv(*args), readonly=False, timeout=self.timeout + 60)

    def get(self, kind: str) -> list[FluxObject]:
        """Every object of `kind` (kustomizations, helmreleases, "sources git", ...) in all namespaces."""
        try:
            result = self.ex.run(self.argv("get", *kind.split(), "--all-namespaces"), readonly=True, timeout=60)
        except CommandError as error:
            if "no " in error.stderr_tail and "objects found" in error.stderr_tail:
                return []
            raise
        rows = table(result.stdout)
        return [FluxObject(kind, row.get("namespace", ""), row.get("name", ""), row.get("ready", "Unknown"),
                           row.get("suspended", "False") == "True", row.get("revision", ""), row.get("message", ""))
                for row in rows]

    def check(self) -> CommandResult:
        return self.ex.run(self.argv("check"), readonly=True, timeout=120, check=False)
