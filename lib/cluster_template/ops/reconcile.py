"""`inv reconcile`: make Flux fetch the Git source and apply it now, then report the result.

As the seed's `task reconcile`: `flux reconcile kustomization flux-system --with-source`, which
fetches the GitRepository and applies the root Kustomization. The root then applies
`cluster-apps`, which applies every app, so the result is only known once both report Ready: this
waits (with a deadline) and reports the Ready condition and message of each, read through the
Kubernetes API as `inv status` reads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ClusterTemplateError, CommandError
from ..tools.flux import Flux

ROOT = ("flux-system", "flux-system")
APPS = ("flux-system", "cluster-apps")
WATCHED = (ROOT, APPS)


@dataclass(frozen=True)
class KustomizationState:
    namespace: str
    name: str
    ready: str  # True | False | missing
    message: str

    @property
    def ok(self) -> bool:
        return self.ready == "True"


@dataclass
class ReconcileResult:
    states: list[KustomizationState] = field(default_factory=list)
    error: str | None = None  # what `flux reconcile` reported when it failed
    dry: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and all(state.ok for state in self.states)


def current_states(kube: Any) -> list[KustomizationState]:
    """The watched Kustomizations as the API reports them (`kube` is a `cluster.Kube`)."""
    states = []
    for namespace, name in WATCHED:
        ready, message = kube.flux_ready("Kustomization", namespace, name)
        if ready is None:
            states.append(KustomizationState(namespace, name, "missing", "the Kustomization does not exist"))
        else:
            states.append(KustomizationState(namespace, name, str(ready), message))
    return states


def reconcile(flux: Flux, kube: Any, *, timeout: float = 300.0, poll_interval: float = 5.0,
              progress: Callable[[str], None] | None = None) -> ReconcileResult:
    """Reconcile the root with its source (`flux`); wait until the root and cluster-apps are Ready
    (read through `kube`, a `cluster.Kube`) or `timeout` seconds have passed; return their states.
    Never raises for a Kustomization that is not Ready: that is the result being reported."""
    say = progress or (lambda _message: None)
    result = ReconcileResult(dry=flux.ex.dry)
    started = time.monotonic()
    say("flux reconcile kustomization flux-system --with-source")
    try:
        flux.reconcile_kustomization(ROOT[1], ROOT[0], with_source=True, timeout=f"{max(1, int(timeout))}s")
    except CommandError as error:
        result.error = _flux_message(error)
        say(f"flux reconcile failed: {result.error}")
    last = ""
    while True:
        try:
            result.states = current_states(kube)
        except ClusterTemplateError as error:
            result.error = result.error or _flux_message(error)
            return result
        # A failed reconcile already is the answer (the root did not apply); so is a dry run.
        if result.dry or result.error is not None or all(state.ok for state in result.states):
            return result
        summary = "; ".join(f"{s.name}: {s.ready}" + (f" ({s.message})" if s.message and not s.ok else "")
                            for s in result.states)
        if summary != last:
            say(f"waiting: {summary}")
            last = summary
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0:
            return result
        time.sleep(min(poll_interval, remaining))


def _flux_message(error: ClusterTemplateError) -> str:
    tail = getattr(error, "stderr_tail", "") or ""
    lines = [line.strip().lstrip("✗").strip() for line in tail.splitlines() if line.strip().startswith("✗")]
    return lines[-1] if lines else str(error).splitlines()[0]
