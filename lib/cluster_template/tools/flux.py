"""flux: reconcile. Readiness is read through the Kubernetes API (`cluster.flux`), not from
`flux get`, whose table has no machine-readable form."""

from __future__ import annotations

from ..run import CommandResult, Executor

DEFAULT_TIMEOUT = 300.0


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
