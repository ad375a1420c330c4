"""Files generated from the model are committed; they must match what the model generates now."""

from cluster_template.config.reference import configuration_reference, sample_with_generated_block
from cluster_template.config.schema import schema_files

from ..conftest import REPO


def test_json_schemas_are_up_to_date():
    for name, text in schema_files().items():
        assert (REPO / "templates/schemas" / name).read_text() == text, f"run `inv template.schema` ({name})"


def test_configuration_reference_is_up_to_date():
    assert (REPO / "docs/CONFIGURATION.md").read_text() == configuration_reference(), "run `inv template.schema`"


def test_samples_reference_the_schemas():
    for name in ("cluster", "nodes"):
        first_line = (REPO / f"templates/samples/{name}.sample.yaml").read_text().splitlines()[0]
        assert first_line == f"# yaml-language-server: $schema=./templates/schemas/{name}.schema.json"


def test_samples_validate_against_the_generated_schemas():
    import json

    import jsonschema
    from ruamel.yaml import YAML

    for name in ("cluster", "nodes"):
        schema = json.loads(schema_files()[f"{name}.schema.json"])
        sample = YAML(typ="safe").load((REPO / f"templates/samples/{name}.sample.yaml").read_text())
        jsonschema.Draft202012Validator(schema).validate(sample)
        bad = {**sample, "no_such_key": 1}
        assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad)), "unknown keys must be refused"


def test_sample_optional_block_is_up_to_date_and_every_key_appears():
    from cluster_template.config.model import ClusterConfig

    sample = (REPO / "templates/samples/cluster.sample.yaml").read_text()
    assert sample == sample_with_generated_block(sample), "run `inv template.schema`"
    for key in ClusterConfig.model_fields:
        assert f"\n{key}: " in sample or f"\n# {key}: " in sample, key
