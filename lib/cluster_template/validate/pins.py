"""Pinned versions: every chart and container image the tree deploys names one exact version.

Checked on the objects Flux would apply (after post-build substitution) and on the bootstrap
helmfile releases:

- `OCIRepository` `spec.ref`: a `digest`, an exact `tag` or an exact `semver` (no range);
- `HelmRelease` `spec.chart.spec.version` (a missing one means `*` to Flux) and `HelmChart`
  `spec.version`;
- every container and init container of any object (`containers` / `initContainers` /
  `ephemeralContainers` lists), and images a HelmRelease sets in its values (`image: repo:tag`,
  or a mapping with `repository` and `tag`);
- helmfile releases' `version` (after `inherit`), literal or read from a rendered file with the
  `readFile ... | fromYaml` expression the bootstrap uses.

A floating reference (`latest`, `*`, a range, a missing tag or version) deploys whatever the
registry serves on the day, so a re-install is not a re-install.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..nested import mapping_or_empty
from .issues import IssueCollector, ValidationIssue
from .objects import Located
from .scan import SourceTree
from .schemas import format_path
from .yamldocs import YamlSyntaxError, load_documents

# An exact version: digits with at least major.minor.patch, optionally `v`-prefixed, with a
# pre-release/build/variant suffix (`1.2.3-alpine`, `v0.9.1+build.4`), or a date-stamped release
# (`2025.10.01`, `RELEASE.2025-09-07T16-13-09Z`).
_EXACT = re.compile(r"^(?:v?\d+\.\d+\.\d+(?:[-+._][0-9A-Za-z][0-9A-Za-z.+_-]*)?"
                    r"|[A-Za-z]*\.?\d{4}-\d{2}-\d{2}T[0-9A-Za-z-]+|\d{4}\.\d{1,2}\.\d{1,2}(?:[-.][0-9A-Za-z.-]+)?)$")
# Images whose project numbers each release with one integer (`http-https-echo:40` is a release,
# not a moving major tag as `postgres:16` is). Every other image needs major.minor.patch.
SINGLE_NUMBER_RELEASES = frozenset({"ghcr.io/mendhak/http-https-echo", "mendhak/http-https-echo"})
# PostgreSQL numbers each release major.minor since version 10 (`17.6` is a release, `17` moves);
# the official image adds a variant (`17.6-alpine`).
TWO_NUMBER_RELEASES = frozenset({"postgres", "docker.io/library/postgres"})
_TWO_NUMBER = re.compile(r"^\d+\.\d+(?:-[0-9A-Za-z][0-9A-Za-z.-]*)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_FIX = "pin an exact version (like 1.2.3) or a digest (@sha256:...)"


def version_problem(value: Any, what: str, image: str | None = None) -> str | None:
    """Why `value` is not an exact version of `what` (of `image`, for an image tag), or None."""
    if value is None or value == "":
        return f"{what} has no version (it would float to the newest); {_FIX}"
    text = str(value).strip()
    if image in SINGLE_NUMBER_RELEASES and text.isdigit():
        return None
    if image in TWO_NUMBER_RELEASES and _TWO_NUMBER.match(text):
        return None
    if text == "latest" or not _EXACT.match(text):
        return f"{what} {text!r} is not an exact version; {_FIX}"
    return None


def image_problem(image: Any) -> str | None:
    """Why an image reference does not name an exact version, or None when it does."""
    if not isinstance(image, str) or not image:
        return None  # the schema check reports a malformed image
    if "@" in image:
        digest = image.split("@", 1)[1]
        return None if _DIGEST.match(digest) else f"image {image!r} has a malformed digest; {_FIX}"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (it means latest); {_FIX}"
    name = image.rsplit(":", 1)[0]
    return version_problem(last.split(":", 1)[1], f"image {name!r} tag", name)


def check_pins(objects: Iterable[Located], tree: SourceTree, collector: IssueCollector) -> None:
    for obj in objects:
        for path, message in object_problems(obj.data):
            collector.add(obj.issue(path, message))
    for rel, source in tree.files.items():
        if source.role == "helmfile":
            collector.extend(helmfile_problems(Path(tree.root), rel, source.documents))


def object_problems(data: Any) -> list[tuple[str, str]]:
    """(path, message) for every floating version in one object."""
    if not isinstance(data, Mapping):
        return []
    problems: list[tuple[str, str]] = []
    kind = data.get("kind")
    spec = mapping_or_empty(data.get("spec"))
    if kind == "OCIRepository":
        problems += _oci_ref(spec.get("ref"))
    elif kind == "HelmRelease":
        chart = spec.get("chart")
        chart_spec = chart.get("spec") if isinstance(chart, Mapping) else None
        if isinstance(chart_spec, Mapping):
            problem = version_problem(chart_spec.get("version"), f"chart {chart_spec.get('chart')!r}")
            if problem:
                problems.append(("spec.chart.spec.version", problem))
        problems += _value_images(spec.get("values"), ["spec", "values"])
    elif kind == "HelmChart":
        problem = version_problem(spec.get("version"), f"chart {spec.get('chart')!r}")
        if problem:
            problems.append(("spec.version", problem))
    problems += _containers(data, [])
    return problems


def _oci_ref(ref: Any) -> list[tuple[str, str]]:
    if not isinstance(ref, Mapping) or not ref:
        return [("spec.ref", f"no ref: the OCIRepository follows latest; set spec.ref.tag; {_FIX}")]
    if "digest" in ref:
        return [] if _DIGEST.match(str(ref["digest"])) else [("spec.ref.digest", f"malformed digest; {_FIX}")]
    if "semver" in ref:
        problem = version_problem(ref["semver"], "semver")
        return [("spec.ref.semver", problem.replace("not an exact version", "a range, not an exact version"))] \
            if problem else []
    problem = version_problem(ref.get("tag"), "tag")
    return [("spec.ref.tag", problem)] if problem else []


def _containers(value: Any, path: list) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _CONTAINER_LISTS and isinstance(item, list):
                for i, container in enumerate(item):
                    if isinstance(container, Mapping):
                        image = container.get("image")
                        problem = "a container without an image" if image is None else image_problem(image)
                        if problem:
                            problems.append((format_path([*path, key, i, "image"]), problem))
            elif key != "values":  # HelmRelease values are chart input, checked separately
                problems += _containers(item, [*path, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += _containers(item, [*path, i])
    return problems


def _value_images(value: Any, path: list) -> list[tuple[str, str]]:
    """Images set in Helm values: `image: repo:tag` strings (or `image: repo` beside a `tag`), and
    mappings with `repository` and a `tag` (no tag leaves the chart's own pinned default, which is fine)."""
    problems: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        if isinstance(value.get("repository"), str) and "tag" in value and not value.get("digest"):
            tag = value.get("tag")
            if tag is not None and tag != "":
                repository = "/".join(str(value[key]) for key in ("registry", "repository") if value.get(key))
                problem = version_problem(tag, f"image {repository!r} tag", repository)
                if problem:
                    problems.append((format_path([*path, "tag"]), problem))
        for key, item in value.items():
            if key == "image" and isinstance(item, str) and item:
                # `image: repo` with a sibling `tag` is the repository; else the whole reference.
                tag = value.get("tag")
                problem = image_problem(item) if tag is None else version_problem(tag, f"image {item!r} tag", item)
                if problem:
                    problems.append((format_path([*path, key if tag is None else "tag"]), problem))
            elif key in _CONTAINER_LISTS and isinstance(item, list):
                problems += [(p, m) for p, m in _containers({key: item}, path)]
            else:
                problems += _value_images(item, [*path, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += _value_images(item, [*path, i])
    return problems


# -- helmfile ----------------------------------------------------------------------------------

_READ_FILE = re.compile(
    r"^\{\{-?\s*\(readFile \(printf \"([^\"]+)\" \.Release\.Namespace \.Release\.Name\) \| fromYaml\)"
    r"((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*-?\}\}$")


def helmfile_problems(root: Path, rel: str, documents: list[Any]) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, Mapping):
            continue
        templates = mapping_or_empty(doc.get("templates"))
        for i, release in enumerate(doc.get("releases") or []):
            if not isinstance(release, Mapping):
                continue
            merged: dict[str, Any] = {}
            for entry in release.get("inherit") or []:
                template = templates.get(entry.get("template")) if isinstance(entry, Mapping) else None
                if isinstance(template, Mapping):
                    merged.update(template)
            merged.update(release)
            problem = _helmfile_version(root, rel, merged)
            if problem:
                issues.append(ValidationIssue(rel, index, "helmfile", None, str(release.get("name")),
                                              format_path(["releases", i, "version"]), problem))
    return issues


def _helmfile_version(root: Path, rel: str, release: Mapping) -> str | None:
    chart = release.get("chart")
    version = release.get("version")
    if isinstance(version, str) and "{{" in version:
        resolved = _read_file_value(root, rel, version, release)
        if isinstance(resolved, str) and resolved.startswith("unresolved:"):
            return f"version {version!r} cannot be evaluated here ({resolved[11:]}); write a literal version"
        version = resolved
    return version_problem(version, f"chart {chart!r}")


def _read_file_value(root: Path, rel: str, expression: str, release: Mapping) -> Any:
    """Evaluate `(readFile (printf FMT .Release.Namespace .Release.Name) | fromYaml).a.b` the way
    helmfile does (paths relative to the helmfile's folder)."""
    match = _READ_FILE.match(expression.strip())
    if match is None:
        return "unresolved:not a readFile expression this check knows"
    try:
        target = match.group(1) % (release.get("namespace"), release.get("name"))
    except TypeError:
        return "unresolved:its format does not take a namespace and a name"
    path = (root / rel).parent / target
    try:
        value: Any = load_documents(path.read_text())[0]
    except (OSError, IndexError, YamlSyntaxError) as exc:
        return f"unresolved:cannot read {target}: {exc.__class__.__name__}"
    for key in match.group(2).strip(".").split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
