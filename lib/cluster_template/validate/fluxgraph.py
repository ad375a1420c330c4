"""The Flux object graph: references between Kustomizations, HelmReleases and their sources.

Checked over every Flux object Flux would see (built output and top-level files):
- a Kustomization's `spec.path` exists in the tree (when its source is this repository);
- its `sourceRef` names a GitRepository/OCIRepository/Bucket of the tree, or an external source
  (by default the `flux-system/flux-system` GitRepository that flux-instance creates);
- each `dependsOn` names an existing Kustomization (namespace defaults to the dependent's), and the
  dependencies have no cycle;
- a HelmRelease's `chartRef` / `chart.spec.sourceRef` name an existing source, its `dependsOn` names
  existing HelmReleases, without cycles.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .defaults import SourceKey
from .fluxbuild import ObjectIndex, is_external, normalized_path, reference, spec_of
from .issues import IssueCollector
from .objects import FLUX_HELM_GROUP, FLUX_KUSTOMIZE_GROUP, Located

Node = tuple[str | None, str]  # (namespace, name)


def check_flux_graph(objects: list[Located], root: Path, external: frozenset[SourceKey],
                     collector: IssueCollector) -> None:
    index = ObjectIndex(objects)
    kustomizations = [obj for obj in objects if obj.is_kind(FLUX_KUSTOMIZE_GROUP, "Kustomization") and obj.name]
    releases = [obj for obj in objects if obj.is_kind(FLUX_HELM_GROUP, "HelmRelease") and obj.name]

    for ks in kustomizations:
        spec = spec_of(ks)
        source = reference(spec.get("sourceRef"), ks.namespace)
        reads_this_repo = True
        if source is not None:
            if is_external(source, external):
                pass
            elif index.find(*source) is not None:
                reads_this_repo = False  # its path lives in that artifact, not in this tree
            else:
                collector.add(ks.issue("spec.sourceRef", f"{_describe(source)} not found in the tree "
                                                         f"(and not one of the external sources)"))
        if reads_this_repo:
            _check_path(ks, spec.get("path"), root, collector)
        _check_depends_on(ks, spec, "Kustomization", index, collector)

    for release in releases:
        spec = spec_of(release)
        chart_ref = reference(spec.get("chartRef"), release.namespace)
        if chart_ref is not None and index.find(*chart_ref) is None and not is_external(chart_ref, external):
            collector.add(release.issue("spec.chartRef", f"{_describe(chart_ref)} not found in the tree"))
        chart = spec.get("chart")
        chart_spec = chart.get("spec") if isinstance(chart, Mapping) else None
        if isinstance(chart_spec, Mapping):
            source = reference(chart_spec.get("sourceRef"), release.namespace)
            if source is not None and index.find(*source) is None and not is_external(source, external):
                collector.add(release.issue("spec.chart.spec.sourceRef", f"{_describe(source)} not found in the tree"))
        _check_depends_on(release, spec, "HelmRelease", index, collector)

    _report_cycles(kustomizations, collector)
    _report_cycles(releases, collector)


def _check_path(ks: Located, value: Any, root: Path, collector: IssueCollector) -> None:
    path = normalized_path(value)
    if path is None:
        collector.add(ks.issue("spec.path", f"{value!r} points outside the repository"))
    elif not (root / path).is_dir():
        collector.add(ks.issue("spec.path", f"{value!r} does not exist in the tree"))


def _check_depends_on(obj: Located, spec: Mapping, kind: str, index: ObjectIndex, collector: IssueCollector) -> None:
    for i, entry in enumerate(_list(spec.get("dependsOn"))):
        ref = _dependency(entry, obj.namespace)
        if ref is not None and index.find(kind, ref[0], ref[1]) is None:
            collector.add(obj.issue(["spec", "dependsOn", i], f"{kind} {_node_text(ref)} not found"))


def _dependency(entry: Any, default_namespace: str | None) -> Node | None:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        return None
    namespace = entry.get("namespace")
    return (namespace if isinstance(namespace, str) and namespace else default_namespace, entry["name"])


def _report_cycles(objects: list[Located], collector: IssueCollector) -> None:
    """Report each dependency cycle once, on its first member (in sorted order)."""
    nodes: dict[Node, Located] = {}
    for obj in objects:
        # A nameless object (its schema check reports it) cannot be a dependsOn target, so not on a cycle.
        if obj.name is not None:
            nodes.setdefault((obj.namespace, obj.name), obj)
    edges: dict[Node, list[Node]] = {}
    for node, obj in nodes.items():
        targets = []
        for entry in _list(spec_of(obj).get("dependsOn")):
            target = _resolve_node(_dependency(entry, obj.namespace), nodes)
            if target is not None:
                targets.append(target)
        edges[node] = targets
    for component in _strongly_connected(edges):
        if len(component) == 1 and component[0] not in edges[component[0]]:
            continue
        start = min(component, key=_node_sort_key)
        cycle = _cycle_through(start, set(component), edges)
        owner = nodes[start]
        collector.add(owner.issue("spec.dependsOn", "dependsOn cycle: " + " -> ".join(_node_text(n) for n in cycle)))


def _resolve_node(ref: Node | None, nodes: dict[Node, Located]) -> Node | None:
    if ref is None:
        return None
    if ref in nodes:
        return ref
    matches = [node for node in nodes if node[1] == ref[1] and (node[0] is None or ref[0] is None)]
    return matches[0] if matches else None


def _strongly_connected(edges: dict[Node, list[Node]]) -> list[list[Node]]:
    """Tarjan's algorithm, iterative (dependency chains can be long)."""
    index_of: dict[Node, int] = {}
    low: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[Node] = []
    components: list[list[Node]] = []
    counter = 0
    for start in sorted(edges, key=_node_sort_key):
        if start in index_of:
            continue
        work = [(start, iter(edges[start]))]
        index_of[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index_of[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_through(start: Node, members: set[Node], edges: dict[Node, list[Node]]) -> list[Node]:
    """A path start -> ... -> start inside one strongly connected component (breadth-first, so the
    shortest one)."""
    previous: dict[Node, Node] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node], key=_node_sort_key):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start, start]


def _node_sort_key(node: Node) -> tuple[str, str]:
    return (node[0] or "", node[1])


def _node_text(node: Node) -> str:
    return f"{node[0]}/{node[1]}" if node[0] else node[1]


def _describe(ref: tuple[str, str | None, str]) -> str:
    kind, namespace, name = ref
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []
