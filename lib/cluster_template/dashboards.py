"""Small Grafana dashboards written as data: a list of panels, each a title and its PromQL queries.

The platform's own dashboards (Flux, cert-manager, Envoy Gateway) cannot come from grafana.com when
the render is checked offline, so they are generated here: `grafana_dashboard` lays the panels out
two per row and returns the dashboard JSON that a `grafana_dashboard: "1"` ConfigMap carries (see
`templates/config/_macros/grafana.j2`). The output is a pure function of its input, so a render is
reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ClusterTemplateError

PANEL_TYPES = ("timeseries", "stat", "table", "logs")
_PANEL_KEYS = {"title", "queries", "unit", "type", "datasource"}
_WIDTH, _HEIGHT = 12, 8  # Grafana's grid is 24 columns wide: two panels a row
# The datasources Grafana is provisioned with (kube-prometheus-stack values), by uid.
DATASOURCES = {"prometheus": {"type": "prometheus", "uid": "prometheus"}, "loki": {"type": "loki", "uid": "loki"}}


class DashboardError(ClusterTemplateError, ValueError):
    """A panel of a dashboard template is malformed (a ValueError, so the render names the template)."""


def grafana_dashboard(panels: Sequence[Mapping[str, Any]], uid: str, title: str, tags: Sequence[str]) -> str:
    """The JSON of a dashboard with `panels` ({title, queries: [[expr, legend], ...], unit?, type?,
    datasource?: prometheus | loki}); a "logs" panel spans the whole row."""
    if not panels:
        raise DashboardError(f"dashboard {uid}: no panels")
    laid_out, column, row = [], 0, 0
    for index, panel in enumerate(panels):
        width = 2 * _WIDTH if panel.get("type") == "logs" else _WIDTH
        if column + width > 2 * _WIDTH:
            column, row = 0, row + 1
        laid_out.append(_panel(uid, index, panel, {"x": column, "y": row * _HEIGHT, "w": width, "h": _HEIGHT}))
        column += width
    return json.dumps({
        "uid": uid,
        "title": title,
        "tags": list(tags),
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "panels": laid_out,
    }, indent=2, ensure_ascii=False)


def _panel(uid: str, index: int, panel: Mapping[str, Any], grid: dict[str, int]) -> dict[str, Any]:
    unknown = set(panel) - _PANEL_KEYS
    if unknown or not panel.get("title") or not panel.get("queries"):
        raise DashboardError(f"dashboard {uid}, panel {index + 1}: needs a title and queries"
                             + (f", unknown keys {sorted(unknown)}" if unknown else ""))
    kind = panel.get("type", "timeseries")
    if kind not in PANEL_TYPES:
        raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: type {kind!r} is not one of {PANEL_TYPES}")
    source = panel.get("datasource", "prometheus")
    if source not in DATASOURCES:
        raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: datasource {source!r} is not one of "
                             f"{tuple(DATASOURCES)}")
    targets = []
    for number, query in enumerate(panel["queries"]):
        if len(query) != 2 or not all(isinstance(part, str) for part in query):
            raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: a query is [expr, legend]")
        expr, legend = query
        target = {"refId": chr(ord("A") + number), "expr": expr}
        if legend:
            target["legendFormat"] = legend
        if kind == "table":
            target |= {"instant": True, "format": "table"}
        targets.append(target)
    return {
        "id": index + 1,
        "type": kind,
        "title": panel["title"],
        "gridPos": grid,
        "datasource": DATASOURCES[source],
        "fieldConfig": {"defaults": {"unit": panel.get("unit", "short")}, "overrides": []},
        "targets": targets,
    }
