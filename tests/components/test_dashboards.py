"""Every Grafana dashboard the template renders itself, with every component that has one on: each
is a `grafana_dashboard` ConfigMap written by `_macros/grafana.j2`, so each parses as a dashboard,
has panels and a uid of its own, and keeps Flux's substitution away from Grafana's $-expressions.
"""

from __future__ import annotations

import json

import pytest

from tests.components.test_data_layer import ALL_ON as DATA_LAYER
from tests.components.test_langfuse import LANGFUSE
from tests.components.test_litellm import LITELLM
from tests.components.test_obot import OBOT
from tests.components.test_platform import KEYCLOAK, Renderer, initialized_copy, load_all, outputs
from tests.components.test_platform_parity import PLATFORM
from tests.conftest import REPO

EVERYTHING = {**PLATFORM, **DATA_LAYER, **LITELLM, **LANGFUSE, **OBOT, **KEYCLOAK, "keycloak_monitoring_enabled": True,
              "dragonfly_litellm_password": "df-litellm-pass", "dragonfly_langfuse_password": "df-langfuse-pass",
              "litellm_monitoring_enabled": True, "langfuse_monitoring_enabled": True,
              "obot_monitoring_enabled": True, "rustfs_monitoring_enabled": True}
# The dashboard templates, by ConfigMap name: the test must see each of them, so none can drop out
# of the render (or stop being a grafana_dashboard ConfigMap) unnoticed.
EXPECTED = {"flux", "cert-manager", "envoy-gateway", "logs-pipeline", "cloudnative-pg", "dragonfly", "rustfs",
            "litellm", "langfuse", "obot", "keycloak"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, bytes]:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("dashboards") / "repo"))(EVERYTHING)


def test_every_rendered_dashboard_is_a_macro_dashboard_with_panels_a_unique_uid_and_no_substitution(rendered):
    boards = {}
    for path, data in outputs(rendered).items():
        if not path.endswith((".yaml", ".yml")) or b"grafana_dashboard" not in data:
            continue
        for doc in load_all(data):
            if doc.get("kind") != "ConfigMap" or doc["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
                continue
            name = doc["metadata"]["name"]
            # One implementation: the ConfigMap and its JSON come from the macro, not written by hand.
            template = (REPO / "templates/config" / f"{path}.j2").read_text()
            assert "grafana.dashboard(" in template and "kind: ConfigMap" not in template, path
            assert name not in boards, f"{path}: a second ConfigMap {name}"
            # Substitution off: Grafana's $__rate_interval / $namespace / ${...} reach Grafana as written...
            assert doc["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"] == "disabled", path
            assert doc["metadata"]["annotations"]["grafana_folder"], path
            [(key, text)] = doc["data"].items()
            assert key == name.removesuffix("-dashboard") + ".json", path
            # ...so a $${...} escape would reach Grafana doubled.
            assert "$${" not in text, path
            boards[name.removesuffix("-dashboard")] = json.loads(text)
    assert set(boards) == EXPECTED
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids), uids
    for name, board in boards.items():
        assert board["title"] and board["panels"], name
        assert all(panel["targets"] and all(target["expr"] for target in panel["targets"])
                   for panel in board["panels"]), name
        assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"]), name


def test_no_template_writes_a_dashboard_by_hand():
    """Whatever the configuration: the label the Grafana sidecar loads, or dashboard JSON, appears
    only in the macro (a chart's own dashboards are switched on in its values instead)."""
    macro = REPO / "templates/config/_macros/grafana.j2"
    by_hand = [str(path.relative_to(REPO)) for path in (REPO / "templates").rglob("*")
               if path.is_file() and path != macro
               and any(mark in path.read_text(errors="replace") for mark in ('grafana_dashboard: "1"', '"schemaVersion"'))]
    assert not by_hand, f"use _macros/grafana.j2: {by_hand}"
