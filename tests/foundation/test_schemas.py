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


@pytest.fixture
def no_settings(tmp_path, monkeypatch):
    """A fresh machine: no schema variable, an empty HOME (so an empty download cache)."""
    monkeypatch.delenv(schemas.SCHEMA_DIR_ENV, raising=False)
    monkeypatch.delenv(schemas.SCHEMA_SOURCE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_shipped_schemas_are_used_with_no_setting(no_settings):
    assert schemas.schema_dir() == schemas.SHIPPED_DIR
    assert schemas.crd_schema("cert-manager.io/certificate_v1.json") == (
        schemas.SHIPPED_DIR / "crds/cert-manager.io/certificate_v1.json")
    assert schemas.talos_schema() == schemas.SHIPPED_DIR / f"talos/config.schema.v{schemas.TALOS_SCHEMA_VERSION}.json"
    assert schemas.talconfig_schema().parent == schemas.SHIPPED_DIR / "talhelper"
    assert not no_settings.exists()  # nothing was downloaded or cached


def test_every_shipped_file_has_a_licence_and_is_valid_json():
    import json

    for folder in ("crds", "talos", "talhelper"):
        assert list((schemas.SHIPPED_DIR / folder).glob("LICENSE.*")), folder
    files = list(schemas.SHIPPED_DIR.glob("*/**/*.json"))
    assert len(files) > 40
    for path in files:
        assert isinstance(json.loads(path.read_text()), dict), path


def test_a_version_not_shipped_is_downloaded_into_the_user_cache(no_settings, monkeypatch, httpserver):
    base = httpserver.url_for("").rstrip("/")
    monkeypatch.setattr(schemas, "DEFAULT_SOURCES", {**schemas.DEFAULT_SOURCES, "crds": f"{base}/catalog"})
    httpserver.expect_oneshot_request("/catalog/cert-manager.io/certificate_v2.json").respond_with_data("{}")
    path = schemas.crd_schema("cert-manager.io/certificate_v2.json")
    assert path == no_settings / ".cache/cluster-template/schemas/crds/cert-manager.io/certificate_v2.json"


def test_offline_the_error_names_the_shipped_versions(no_settings, monkeypatch):
    # Port 9 on loopback (discard) is closed here: the download fails the way it does offline.
    monkeypatch.setattr(schemas, "DEFAULT_SOURCES", {**schemas.DEFAULT_SOURCES, "crds": "http://127.0.0.1:9",
                                                     "talos": "http://127.0.0.1:9"})
    with pytest.raises(schemas.SchemaUnavailable) as raised:
        schemas.crd_schema("cert-manager.io/certificate_v2.json")
    assert "ships schemas of cert-manager.io certificate for v1 only" in str(raised.value)
    with pytest.raises(schemas.SchemaUnavailable) as raised:
        schemas.talos_schema("1.13.0")
    assert f"ships Talos config schemas for v{schemas.TALOS_SCHEMA_VERSION} only" in str(raised.value)
