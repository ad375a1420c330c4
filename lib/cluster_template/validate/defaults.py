"""Defaults of `validate_tree` (kept apart so importing the package stays cheap)."""

from __future__ import annotations

SourceKey = tuple[str, str, str]  # a Flux source as (kind, namespace, name)

# The GitRepository flux-instance creates for this repository: it is not a file of the tree, but
# every Kustomization of the template reads from it.
DEFAULT_EXTERNAL_SOURCES: frozenset[SourceKey] = frozenset({("GitRepository", "flux-system", "flux-system")})

# Where Flux starts applying this repository: the path FluxInstance syncs (its HelmRelease values,
# `instance.sync.path`). Every file under kubernetes/ must be reachable from here.
DEFAULT_ENTRY_POINTS: tuple[str, ...] = ("kubernetes/flux/cluster",)
