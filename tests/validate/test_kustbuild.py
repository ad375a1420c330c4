"""The in-process kustomize builder against the real `kubectl kustomize`.

Equivalence on the all-components render (the benchmark's configuration): every Flux Kustomization
path is built both ways and the objects compared, in order; then the whole Flux application
(substitution, namespaces, patches, schema checks) is run on both and compared. Planted errors go to
kubectl, whose message names them. The kubectl build cache is checked for reuse, invalidation by
any input, and for ignoring corrupt entries.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from cluster_template.ops.configure import build_context
from cluster_template.render import render_templates
from cluster_template.run import Executor
from cluster_template.validate import validate_tree
from cluster_template.validate.buildcache import BuildCache
from cluster_template.validate.defaults import DEFAULT_EXTERNAL_SOURCES
from cluster_template.validate.fluxbuild import FluxBuilds
from cluster_template.validate.issues import IssueCollector
from cluster_template.validate.kustbuild import build_in_process
from cluster_template.validate.kustomize import Builder
from cluster_template.validate.objects import ObjectChecker
from cluster_template.validate.scan import scan_tree
from cluster_template.validate.schemas import SchemaStore
from cluster_template.validate.substitution import Variables, substitute
from cluster_template.validate.yamldocs import YamlSyntaxError, load_documents, without_sops
from tests.conftest import REPO, copy_project
from tests.validate.conftest import CRD_SCHEMAS, TALCONFIG_SCHEMA, TALOS_SCHEMA

pytestmark = pytest.mark.slow


def _scenarios():
    spec = importlib.util.spec_from_file_location("bench_scenarios", REPO / "bench" / "scenarios.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The all-components render, in plaintext (kustomize does not care about encryption)."""
    scratch = tmp_path_factory.mktemp("all-on")
    project = copy_project(scratch / "project")
    assert project.inv("init").returncode == 0
    shutil.copy(project.root / "templates/samples/cloudflare-tunnel.sample.json", project.root / "cloudflare-tunnel.json")
    scenarios = _scenarios()
    project.write("cluster.yaml", scenarios.all_components_cluster(3))
    project.write("nodes.yaml", scenarios.nodes_yaml(3))
    _, context = build_context(project.root, Executor())
    tree = scratch / "tree"
    for path, content in render_templates(project.root / "templates" / "config", context).items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(content)
    return tree


def _flux_paths(root: Path) -> list[str]:
    """Every directory the Flux Kustomizations of the tree point at (discovery, as validate does)."""
    builds = _flux_builds(root, in_process=True)
    builds._discover()
    return sorted(path for path in builds.builds if _has_kustomization(root / path))


def _has_kustomization(directory: Path) -> bool:
    return (directory / "kustomization.yaml").is_file()


def _flux_builds(root: Path, *, in_process: bool, cache: BuildCache | None = None) -> FluxBuilds:
    collector = IssueCollector()
    tree = scan_tree(root, collector)
    checker = ObjectChecker(SchemaStore(CRD_SCHEMAS, "1.35.0"), collector)
    builder = Builder(root, Executor(), tree, workers=4, in_process=in_process, cache=cache)
    return FluxBuilds(tree, builder, checker, collector, DEFAULT_EXTERNAL_SOURCES)


def _kubectl_objects(builder: Builder, rel: str) -> list:
    build = builder.build(rel)
    assert not build.failures, build.failures
    return [without_sops(load_documents(item.text)[0]) for item in build.items]


def test_every_flux_path_of_the_all_on_render_builds_the_same_in_process(rendered: Path):
    paths = _flux_paths(rendered)
    assert len(paths) >= 30, paths  # the platform set has 31 Kustomization paths
    tree = scan_tree(rendered, IssueCollector())
    kubectl = Builder(rendered, Executor(), tree, in_process=False)
    outside = []
    for rel in paths:
        built = build_in_process(rel, tree)
        if built is None:
            outside.append(rel)
            continue
        expected = _kubectl_objects(kubectl, rel)
        assert [without_sops(item.data) for item in built] == expected, rel  # same objects, same order
        texts = [item.text for item in kubectl.build(rel).items]
        for item, kubectl_text in zip(built, texts):
            if "${" in kubectl_text:  # Flux substitutes in this text: both must give the same object
                for value in ("1", "on", "*.example.com", "a: b", "x'y"):
                    assert _substituted(item.text, value) == _substituted(kubectl_text, value), (rel, value)
    assert outside == [], f"built by kubectl instead (outside the in-process subset): {outside}"


def _substituted(text: str, value: str):
    """The object after Flux's substitution with every variable set to `value` (None if that breaks
    the YAML, which must then break both ways)."""
    names = set(re.findall(r"\$\{([_a-zA-Z][_a-zA-Z0-9]*)", text))
    variables = Variables()
    for name in names:
        variables.set(name, value)
    try:
        return without_sops(load_documents(substitute(text, variables).text)[0])
    except YamlSyntaxError:
        return None


def test_validation_sees_the_same_objects_and_problems_either_way(rendered: Path):
    results = []
    for in_process in (True, False):
        builds = _flux_builds(rendered, in_process=in_process)
        objects = builds.run()
        report = builds.collector.report()
        results.append(([(obj.file, obj.index, obj.origin, obj.data) for obj in objects],
                         [str(issue) for issue in report.errors], report.counts))
        if in_process:
            assert set(builds.builder.methods.values()) == {"in-process"}
    assert results[0] == results[1]


def _validate(root: Path, cache_dir: Path | None = None, **options):
    return validate_tree(root, executor=Executor(), schema_dir=CRD_SCHEMAS, talos_schema=TALOS_SCHEMA,
                         talconfig_schema=TALCONFIG_SCHEMA, build_cache_dir=cache_dir, **options)


@pytest.fixture
def copy(rendered: Path, tmp_path: Path) -> Path:
    shutil.copytree(rendered, tmp_path / "tree")
    return tmp_path / "tree"


def test_a_missing_resource_file_is_named_by_kubectl(copy: Path):
    kustomization = copy / "kubernetes/apps/default/echo/app/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("./helmrelease.yaml", "./helmrelease-typo.yaml"))
    report = _validate(copy)
    messages = "\n".join(str(issue) for issue in report.errors)
    assert "kubectl kustomize kubernetes/apps/default/echo/app failed" in messages
    assert "helmrelease-typo.yaml" in messages


def test_a_bad_patch_is_caught_and_named(copy: Path):
    kustomization = copy / "kubernetes/apps/default/echo/app/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + (
        "patches:\n  - target: {kind: HelmRelease, name: echo}\n"
        "    patch: |\n      - op: replace\n        path: /spec/nosuchfield/deeper\n        value: 1\n"))
    report = _validate(copy)
    messages = "\n".join(str(issue) for issue in report.errors)
    assert "kubectl kustomize kubernetes/apps/default/echo/app failed" in messages, messages
    assert "nosuchfield" in messages


def test_a_duplicate_object_goes_to_kubectl(copy: Path):
    app = "kubernetes/apps/default/echo/app"
    (copy / app / "kustomization.yaml").write_text(
        (copy / app / "kustomization.yaml").read_text().replace("  - ./helmrelease.yaml\n",
                                                               "  - ./helmrelease.yaml\n  - ./helmrelease.yaml\n"))
    assert build_in_process(app, scan_tree(copy, IssueCollector())) is None
    report = _validate(copy)
    assert any("kubectl kustomize kubernetes/apps/default/echo/app failed" in str(issue)
               and "already registered id" in str(issue) for issue in report.errors)


def test_a_cycle_goes_to_kubectl(copy: Path):
    parent, app = "kubernetes/apps/default", "kubernetes/apps/default/echo/app"
    for directory, entry in ((parent, "./echo/app"), (app, "../..")):
        kustomization = copy / directory / "kustomization.yaml"
        kustomization.write_text(kustomization.read_text() + f"  - {entry}\n")
    assert build_in_process(parent, scan_tree(copy, IssueCollector())) is None
    report = _validate(copy)
    assert any("kubectl kustomize kubernetes/apps/default" in str(issue) and "cycle detected" in str(issue)
               for issue in report.errors), [str(issue) for issue in report.errors]


def test_an_unknown_field_goes_to_kubectl(copy: Path):
    app = copy / "kubernetes/apps/default/echo/app"
    (app / "kustomization.yaml").write_text((app / "kustomization.yaml").read_text()
                                            + "commonLabels:\n  team: platform\n")
    tree = scan_tree(copy, IssueCollector())
    assert build_in_process("kubernetes/apps/default/echo/app", tree) is None
    builder = Builder(copy, Executor(), tree)
    build = builder.build("kubernetes/apps/default/echo/app")
    assert builder.methods == {"kubernetes/apps/default/echo/app": "kubectl"}
    assert all(load_documents(item.text)[0]["metadata"]["labels"]["team"] == "platform" for item in build.items)


def _kubectl_only_builds(root: Path, cache_dir: Path) -> dict[str, str]:
    builds = _flux_builds(root, in_process=False, cache=BuildCache(cache_dir))
    builds._discover()
    return builds.builder.methods


def test_kubectl_builds_are_cached_by_their_inputs(copy: Path, tmp_path: Path):
    cache_dir = tmp_path / "cache"
    first = _kubectl_only_builds(copy, cache_dir)
    assert set(first.values()) == {"kubectl"}
    assert set(_kubectl_only_builds(copy, cache_dir).values()) == {"cached"}
    # An edit in one app rebuilds what could read it (the digest takes whole folders: the app and the
    # folders above it), and nothing else.
    release = copy / "kubernetes/apps/default/echo/app/helmrelease.yaml"
    release.write_text(release.read_text() + "# edited\n")
    after_edit = _kubectl_only_builds(copy, cache_dir)
    rebuilt = {path for path, method in after_edit.items() if method == "kubectl"}
    assert "kubernetes/apps/default/echo/app" in rebuilt
    assert all("kubernetes/apps/default/echo/app".startswith(path) for path in rebuilt), rebuilt
    assert len(after_edit) - len(rebuilt) >= 25
    # A corrupt entry is ignored, never trusted: the build runs again and the entry is rewritten.
    for entry in cache_dir.glob("*.json"):
        data = json.loads(entry.read_text())
        data["output"] = data["output"].replace("kind:", "kind: Corrupt\nx:", 1)
        entry.write_text(json.dumps(data))
    for entry in list(cache_dir.glob("*.json"))[:3]:
        entry.write_text(entry.read_text()[:40])
    assert set(_kubectl_only_builds(copy, cache_dir).values()) == {"kubectl"}
    assert set(_kubectl_only_builds(copy, cache_dir).values()) == {"cached"}


def test_a_cached_build_never_hides_a_new_error(copy: Path, tmp_path: Path):
    cache_dir = tmp_path / "cache"
    assert _validate(copy, cache_dir, in_process_builds=False).ok
    kustomization = copy / "kubernetes/apps/default/echo/app/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("./helmrelease.yaml", "./gone.yaml"))
    report = _validate(copy, cache_dir, in_process_builds=False)
    assert any("gone.yaml" in str(issue) for issue in report.errors)
