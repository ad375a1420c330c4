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

PANEL_TYPES = ("timeseries", "stat", "table")
_PANEL_KEYS = {"title", "queries", "unit", "type"}
_WIDTH, _HEIGHT = 12, 8  # Grafana's grid is 24 columns wide: two panels a row
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}


class DashboardError(ClusterTemplateError, ValueError):
    """A panel of a dashboard template is malformed (a ValueError, so the render names the template)."""


def grafana_dashboard(panels: Sequence[Mapping[str, Any]], uid: str, title: str, tags: Sequence[str]) -> str:
    """The JSON of a dashboard with `panels` ({title, queries: [[expr, legend], ...], unit?, type?})."""
    if not panels:
        raise DashboardError(f"dashboard {uid}: no panels")
    return json.dumps({
        "uid": uid,
        "title": title,
        "tags": list(tags),
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [_panel(uid, index, panel) for index, panel in enumerate(panels)],
    }, indent=2, ensure_ascii=False)


def _panel(uid: str, index: int, panel: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(panel) - _PANEL_KEYS
    if unknown or not panel.get("title") or not panel.get("queries"):
        raise DashboardError(f"dashboard {uid}, panel {index + 1}: needs a title and queries"
                             + (f", unknown keys {sorted(unknown)}" if unknown else ""))
    kind = panel.get("type", "timeseries")
    if kind not in PANEL_TYPES:
        raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: type {kind!r} is not one of {PANEL_TYPES}")
    targets = []
    for number, query in enumerate(panel["queries"]):
        if len(query) != 2 or not all(isinstance(part, str) for part in query):
            raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: a query is [expr, legend]")
        expr, legend = query
        target = {"refId": chr(ord("A") + number), "expr": expr, "legendFormat": legend}
        if kind == "table":
            target |= {"instant": True, "format": "table"}
        targets.append(target)
    return {
        "id": index + 1,
        "type": kind,
        "title": panel["title"],
        "gridPos": {"x": (index % 2) * _WIDTH, "y": (index // 2) * _HEIGHT, "w": _WIDTH, "h": _HEIGHT},
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": {"unit": panel.get("unit", "short")}, "overrides": []},
        "targets": targets,
    }
