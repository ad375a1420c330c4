"""The CRD -> JSON schema conversion behind `inv template.update-schemas`, and the update pipeline
run against a tiny project with upstream served from memory (the real task needs the network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cluster_template.run import Executor
from cluster_template.schemas import update
from cluster_template.schemas.convert import NotACrd, crd_schemas
from cluster_template.validate.schemas import SchemaStore, check

FIXTURE = Path(__file__).parent / "fixtures" / "crds" / "widgets.yaml"
REPO = Path(__file__).resolve().parents[2]


def widget_crd() -> dict:
    return next(YAML(typ="safe", pure=True).load_all(FIXTURE.read_text()))


@pytest.fixture
def widget_schema() -> dict:
    schemas = crd_schemas(widget_crd())
    assert list(schemas) == ["example.io/widget_v1.json"]  # v1beta1 is not served
    return schemas["example.io/widget_v1.json"]


def test_objects_with_properties_are_closed_except_the_top_level_and_preserved_fields(widget_schema):
    spec = widget_schema["properties"]["spec"]
    assert "additionalProperties" not in widget_schema  # the validator closes it with the envelope
    assert spec["additionalProperties"] is False
    assert spec["properties"]["template"]["additionalProperties"] is False
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in spec["properties"]["values"]
    # A field named like a keyword is a field; a default value is data, not a schema.
    assert spec["properties"]["properties"]["properties"] == {"type": {"type": "string"}}
    assert spec["properties"]["template"]["default"] == {"properties": {}}


def test_int_or_string_and_nullable(widget_schema):
    fields = widget_schema["properties"]["spec"]["properties"]
    assert fields["size"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert fields["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert fields["colour"]["type"] == ["string", "null"] and fields["colour"]["enum"] == ["red", "blue", None]
    assert fields["template"]["properties"]["count"]["type"] == ["integer", "null"]
    assert "nullable" not in json.dumps(widget_schema)


def _problems(schema_dir: Path, document: dict) -> list[str]:
    store = SchemaStore(schema_dir, "1.35.0")
    handle = store.for_object("example.io/v1", "Widget")
    return [f"{problem.path}: {problem.message}" for problem in check(handle, document)]


def test_the_converted_schema_validates_like_the_api_server(tmp_path, widget_schema):
    (tmp_path / "example.io").mkdir()
    (tmp_path / "example.io" / "widget_v1.json").write_text(json.dumps(widget_schema))
    good = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"size": "10Gi", "port": 8080, "colour": None, "values": {"anything": {"goes": 1}},
                     "template": {"name": "x", "count": None}}}
    assert _problems(tmp_path, good) == []
    bad = {**good, "spec": {**good["spec"], "sise": 1, "port": 1.5, "colour": "green",
                            "template": {"nmae": "x"}}}
    problems = _problems(tmp_path, bad)
    assert any(p.startswith("spec.sise:") for p in problems), problems
    assert any(p.startswith("spec.template.nmae:") for p in problems), problems
    assert any(p.startswith("spec.port:") for p in problems), problems
    assert any(p.startswith("spec.colour:") for p in problems), problems


def test_a_document_that_is_not_a_crd_is_refused():
    with pytest.raises(NotACrd):
        crd_schemas({"kind": "Namespace"})
    broken = widget_crd()
    del broken["spec"]["versions"][0]["schema"]
    with pytest.raises(NotACrd, match="no openAPIV3Schema"):
        crd_schemas(broken)


def test_every_pin_of_the_real_sources_resolves_offline():
    plan = update.plan(REPO, REPO / update.SCHEMA_FOLDER)
    versions = {planned.source.name: planned.version for planned in plan.sources}
    assert set(versions) == {source.name for source in update.SOURCES}
    assert all(version[0].isdigit() or version.startswith("v") for version in versions.values()), versions
    assert "dragonflydb.io" in plan.kept_groups and "cert-manager.io" not in plan.kept_groups
    assert "k8s.keycloak.org" not in plan.kept_groups
    assert versions["keycloak"] == "26.5.0"


# -- the pipeline on a tiny project ----------------------------------------------------------------

WIDGETS = update.CrdSource(
    "widgets", ("example.io",), update.Pin("pins.txt", r"^widgets: (\S+)$"), "example/widgets", "v{version}",
    ("https://raw.githubusercontent.com/{repository}/{ref}/crds/widgets.yaml",))
UPSTREAM = {
    "https://raw.githubusercontent.com/example/widgets/v1.2.3/crds/widgets.yaml": FIXTURE.read_bytes(),
    "https://raw.githubusercontent.com/example/widgets/v1.2.3/LICENSE": b"Apache License 2.0\n",
}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    folder = root / update.SCHEMA_FOLDER
    (folder / "crds" / "example.io").mkdir(parents=True)
    (folder / "crds" / "example.io" / "widget_v1.json").write_text("{}")
    (folder / "crds" / "example.io" / "gadget_v1.json").write_text("{}")  # upstream no longer has it
    (folder / "SOURCES.md").write_text(
        f"intro\n\n{update.SOURCES_BEGIN}\n| folder | upstream repo | path in repo | revision | license |\n"
        f"| --- | --- | --- | --- | --- |\n{update.SOURCES_END}\n\nnotes\n")
    (root / "pins.txt").write_text("widgets: 1.2.3\n")
    return root


def refresh(root, ex=None, get=UPSTREAM.__getitem__):
    return update.refresh(root, ex or Executor(), get, sources=(WIDGETS,))


def test_refresh_writes_the_converted_schemas_licence_and_sources(project):
    folder = project / update.SCHEMA_FOLDER
    _, changed = refresh(project)
    assert ("remove", f"{update.SCHEMA_FOLDER}/crds/example.io/gadget_v1.json") in changed
    assert not (folder / "crds/example.io/gadget_v1.json").exists()
    written = json.loads((folder / "crds/example.io/widget_v1.json").read_text())
    assert written == crd_schemas(widget_crd())["example.io/widget_v1.json"]
    assert (folder / "crds/example.io/LICENSE.example-widgets").read_text() == "Apache License 2.0\n"
    sources = (folder / "SOURCES.md").read_text()
    assert ("| `crds/example.io/` | example/widgets | `crds/widgets.yaml` (converted) | v1.2.3 (pinned in "
            "`pins.txt`) | Apache-2.0 (`crds/example.io/LICENSE.example-widgets`) |") in sources
    assert sources.startswith("intro") and sources.endswith("notes\n")
    _, again = refresh(project)
    assert again == []  # a second run changes nothing


def test_dry_run_fetches_and_writes_nothing(project):
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    plan, changed = refresh(project, Executor(dry=True), lambda url: pytest.fail(f"fetched {url}"))
    assert changed == [] and before == {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    lines = update.plan_lines(plan, dry=True)
    assert "widgets 1.2.3 (pinned in pins.txt): example.io" in lines
    assert "  would fetch: https://raw.githubusercontent.com/example/widgets/v1.2.3/crds/widgets.yaml" in lines


def test_offline_and_moved_files_are_clear_errors(project):
    def offline(url):
        return update.http_get("http://127.0.0.1:9/nothing")

    with pytest.raises(update.SchemaUpdateError, match="cannot download http://127.0.0.1:9/nothing"):
        refresh(project, get=offline)
    (project / "pins.txt").write_text("gadgets: 1\n")
    with pytest.raises(update.SchemaUpdateError, match="pins.txt: no version pin matches"):
        refresh(project)


def test_manifests_without_the_group_are_refused(project):
    empty = {**UPSTREAM, "https://raw.githubusercontent.com/example/widgets/v1.2.3/crds/widgets.yaml": b"{}\n"}
    with pytest.raises(update.SchemaUpdateError, match="hold no CRD of example.io"):
        refresh(project, get=empty.__getitem__)
