"""Small Grafana dashboards written as data: a list of panels, each a title and its PromQL queries.

The dashboards the template ships itself (Flux, cert-manager, Envoy Gateway, the logs pipeline and
every component's: CloudNativePG, Dragonfly, RustFS, LiteLLM, Langfuse, Obot) cannot come from
grafana.com when the render is checked offline, so they are generated here: `grafana_dashboard`
lays the panels out two per row (or at the width a panel asks for) and returns the dashboard JSON
that a `grafana_dashboard: "1"` ConfigMap carries (see `templates/config/_macros/grafana.j2`, the
only template that writes one). The output is a pure function of its input, so a render is
reproducible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ClusterTemplateError

PANEL_TYPES = ("timeseries", "stat", "table", "logs")
_PANEL_KEYS = {"title", "queries", "unit", "type", "datasource", "width", "thresholds"}
_VARIABLE_KEYS = {"name", "query"}
_ROW, _HEIGHT = 24, 8  # Grafana's grid is 24 columns wide: two panels a row unless a panel says its width
_HEIGHTS = {"stat": 4}  # a single number needs no graph's height; a row is as tall as its tallest panel
# A $name in a query that is not one of the dashboard's variables would reach Prometheus verbatim;
# Grafana's own variables ($__rate_interval, $__range, ...) start with two underscores.
_VARIABLE_USE = re.compile(r"\$\{?([A-Za-z_]\w*)")
# The datasources Grafana is provisioned with (kube-prometheus-stack values), by uid.
DATASOURCES = {"prometheus": {"type": "prometheus", "uid": "prometheus"}, "loki": {"type": "loki", "uid": "loki"}}


class DashboardError(ClusterTemplateError, ValueError):
    """A panel of a dashboard template is malformed (a ValueError, so the render names the template)."""


def grafana_dashboard(panels: Sequence[Mapping[str, Any]], uid: str, title: str, tags: Sequence[str],
                      variables: Sequence[Mapping[str, str]] = ()) -> str:
    """The JSON of a dashboard with `panels` ({title, queries: [[expr, legend], ...], unit?, type?,
    datasource?: prometheus | loki, width?: 1-24 columns, thresholds?: [[value, colour], ...]}) and
    `variables` ({name, query}: a multi-value Prometheus label_values query, "All" by default);
    a panel is half a row wide unless it gives its width, a "logs" panel the whole row."""
    if not panels:
        raise DashboardError(f"dashboard {uid}: no panels")
    names = _variable_names(uid, variables)
    laid_out, column, top, row_height = [], 0, 0, 0
    for index, panel in enumerate(panels):
        width, height = _width(uid, panel), _HEIGHTS.get(str(panel.get("type")), _HEIGHT)
        if column + width > _ROW:
            column, top, row_height = 0, top + row_height, 0
        laid_out.append(_panel(uid, index, panel, {"x": column, "y": top, "w": width, "h": height}, names))
        column, row_height = column + width, max(row_height, height)
    board: dict[str, Any] = {
        "uid": uid,
        "title": title,
        "tags": list(tags),
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
    }
    if variables:
        board["templating"] = {"list": [_variable(variable) for variable in variables]}
    return json.dumps(board | {"panels": laid_out}, indent=2, ensure_ascii=False)


def _variable_names(uid: str, variables: Sequence[Mapping[str, str]]) -> set[str]:
    names: set[str] = set()
    for variable in variables:
        if set(variable) != _VARIABLE_KEYS or not all(isinstance(variable[key], str) and variable[key]
                                                      for key in _VARIABLE_KEYS):
            raise DashboardError(f"dashboard {uid}: a variable is {{name, query}}, got {dict(variable)!r}")
        if not re.fullmatch(r"[A-Za-z]\w*", variable["name"]) or variable["name"] in names:
            raise DashboardError(f"dashboard {uid}: variable name {variable['name']!r} is not a unique identifier")
        names.add(variable["name"])
    return names


def _variable(variable: Mapping[str, str]) -> dict[str, Any]:
    # refresh 1 (on load): a provisioned dashboard carries no options, and "All" of none matches nothing.
    return {"name": variable["name"], "type": "query", "datasource": DATASOURCES["prometheus"],
            "query": variable["query"], "refresh": 1, "includeAll": True, "multi": True,
            "current": {"text": "All", "value": "$__all"}}


def _width(uid: str, panel: Mapping[str, Any]) -> int:
    width = panel.get("width", _ROW if panel.get("type") == "logs" else _ROW // 2)
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= _ROW:
        raise DashboardError(f"dashboard {uid}, panel {panel.get('title')!r}: width {width!r} is not 1-{_ROW} columns")
    return width


def _thresholds(uid: str, panel: Mapping[str, Any]) -> dict[str, Any]:
    """Grafana's absolute threshold steps: green below the first value, each colour from its value up."""
    given = panel["thresholds"]
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    previous = float("-inf")
    for step in given if isinstance(given, (list, tuple)) else ():
        if (not isinstance(step, (list, tuple)) or len(step) != 2 or isinstance(step[0], bool)
                or not isinstance(step[0], (int, float)) or not isinstance(step[1], str) or not step[1]
                or step[0] <= previous):
            break
        previous = step[0]
        steps.append({"color": step[1], "value": step[0]})
    if len(steps) == 1 or len(steps) != len(given) + 1:
        raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: thresholds are [[value, colour], ...] "
                             "with rising values")
    return {"mode": "absolute", "steps": steps}


def _panel(uid: str, index: int, panel: Mapping[str, Any], grid: dict[str, int],
           variables: set[str]) -> dict[str, Any]:
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
        undefined = {name for name in _VARIABLE_USE.findall(expr) if not name.startswith("__")} - variables
        if undefined:
            raise DashboardError(f"dashboard {uid}, panel {panel['title']!r}: query uses undefined variables "
                                 f"{sorted(undefined)}")
        target = {"refId": chr(ord("A") + number), "expr": expr}
        if legend:
            target["legendFormat"] = legend
        if kind == "table":
            target |= {"instant": True, "format": "table"}
        targets.append(target)
    defaults: dict[str, Any] = {"unit": panel.get("unit", "short")}
    if "thresholds" in panel:
        defaults["thresholds"] = _thresholds(uid, panel)
    return {
        "id": index + 1,
        "type": kind,
        "title": panel["title"],
        "gridPos": grid,
        "datasource": DATASOURCES[source],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": targets,
    }
