"""The schema cache downloads a missing schema once, from a real HTTP server on loopback."""

import pytest

from cluster_template import schemas


@pytest.fixture
def cache(tmp_path, monkeypatch, httpserver):
    monkeypatch.setenv(schemas.SCHEMA_DIR_ENV, str(tmp_path / "cache"))
    base = httpserver.url_for("").rstrip("/")
    monkeypatch.setenv(schemas.SCHEMA_SOURCE_ENV, f"crds={base}/catalog,talos={base}/talos,talhelper={base}/th")
    return tmp_path / "cache"


def test_missing_schema_is_downloaded_once_and_kept(cache, httpserver):
    httpserver.expect_oneshot_request("/catalog/example.io/widget_v1.json").respond_with_data('{"type": "object"}')
    path = schemas.crd_schema("example.io/widget_v1.json")
    assert path == cache / "crds/example.io/widget_v1.json" and path.read_text() == '{"type": "object"}'
    assert schemas.crd_schema("example.io/widget_v1.json") == path  # served from the cache: no second request
    httpserver.check_assertions()


def test_talos_and_talhelper_schemas_come_from_their_release_paths(cache, httpserver):
    httpserver.expect_request(
        f"/talos/v{schemas.TALOS_SCHEMA_VERSION}/pkg/machinery/config/schemas/config.schema.json").respond_with_data("{}")
    httpserver.expect_request("/th/talconfig.json").respond_with_data("{}")
    assert schemas.talos_schema().is_file() and schemas.talconfig_schema().is_file()


def test_unknown_schema_is_none_and_server_errors_are_reported(cache, httpserver):
    httpserver.expect_request("/catalog/example.io/nothing_v1.json").respond_with_data("no", status=404)
    assert schemas.crd_schema("example.io/nothing_v1.json") is None
    httpserver.expect_request("/catalog/example.io/broken_v1.json").respond_with_data("oops", status=500)
    with pytest.raises(schemas.SchemaUnavailable, match="HTTP 500"):
        schemas.crd_schema("example.io/broken_v1.json")
    assert not (cache / "crds/example.io/broken_v1.json").exists()


def test_a_configured_directory_is_authoritative(tmp_path, monkeypatch):
    monkeypatch.setenv(schemas.SCHEMA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(schemas.SCHEMA_SOURCE_ENV, raising=False)
    assert schemas.crd_schema("example.io/widget_v1.json") is None
