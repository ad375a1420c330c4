"""Flux objects: where each kind is served and how its Ready condition reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FluxKind:
    group: str
    version: str
    plural: str


# The storage versions of Flux v2.7 (OCIRepository is v1 since Flux 2.6, HelmRelease v2 since 2.3).
FLUX_KINDS: dict[str, FluxKind] = {
    "GitRepository": FluxKind("source.toolkit.fluxcd.io", "v1", "gitrepositories"),
    "OCIRepository": FluxKind("source.toolkit.fluxcd.io", "v1", "ocirepositories"),
    "Kustomization": FluxKind("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
    "HelmRelease": FluxKind("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
}


def flux_kind(kind: str) -> FluxKind:
    try:
        return FLUX_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown Flux kind {kind!r}; expected one of {', '.join(FLUX_KINDS)}") from None


def readiness(obj: dict) -> tuple[bool, str]:
    """(ready, message) from status.conditions[type=Ready], as `flux get` shows it.

    A status older than the object's generation is not trusted: the controller has not looked at
    the latest spec yet. A suspended object is marked so, since it will not progress by itself."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    suspended = bool((obj.get("spec") or {}).get("suspend"))
    prefix = "suspended; " if suspended else ""
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    if condition is None:
        return False, prefix + "waiting for the controller to report a Ready condition"
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return False, prefix + f"reconciliation of generation {generation} in progress"
    message = str(condition.get("message") or condition.get("reason") or "")
    return condition.get("status") == "True", prefix + message


def flux_revision(obj: dict) -> str:
    """The revision `flux get` shows: a source's artifact, what a Kustomization last applied, the
    chart version a HelmRelease last attempted."""
    status = obj.get("status") or {}
    artifact = status.get("artifact") or {}
    return str(artifact.get("revision") or status.get("lastAppliedRevision") or status.get("lastAttemptedRevision")
               or "")
