"""Regenerating the shipped CRD schemas from the CRDs of the versions the templates pin.

Each `CrdSource` names the CRD groups it provides, where the project pins its version (a template, the
CRD helmfile or `.mise.toml`), and the upstream manifests holding the CRDs at that version. `plan`
resolves the pins offline (what `--dry` shows); `fetch` downloads the manifests, converts every served
version (`convert.crd_schemas`) and returns the new files of each regenerated group, the files of
those groups that upstream no longer has, the upstream licences and the rewritten `SOURCES.md`.
Groups no source covers (nothing pins their chart yet) keep their catalog copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ClusterTemplateError
from .convert import NotACrd, crd_schemas

RAW = "https://raw.githubusercontent.com/{repository}/{ref}/{path}"
SOURCES_BEGIN = "<!-- begin regenerated CRD groups (inv template.update-schemas) -->"
SOURCES_END = "<!-- end regenerated CRD groups -->"
_TABLE_HEAD = "| folder | upstream repo | path in repo | revision | license |\n| --- | --- | --- | --- | --- |\n"


class SchemaUpdateError(ClusterTemplateError):
    """A pin could not be read, or an upstream manifest could not be fetched or used."""


@dataclass(frozen=True)
class Pin:
    """A version pinned in a project file: the first group of `pattern` (multiline regex)."""

    file: str
    pattern: str

    def read(self, root: Path) -> str:
        path = root / self.file
        try:
            text = path.read_text()
        except OSError as exc:
            raise SchemaUpdateError(f"{self.file}: cannot read the pinned version ({exc.strerror})") from None
        match = re.search(self.pattern, text, flags=re.MULTILINE)
        if match is None:
            raise SchemaUpdateError(f"{self.file}: no version pin matches {self.pattern!r}; "
                                    "update the CrdSource in cluster_template/schemas/update.py")
        return match.group(1)


def _chart_pin(app: str) -> Pin:
    return Pin(f"templates/config/kubernetes/apps/{app}/app/ocirepository.yaml.j2", r"^\s+tag:\s*['\"]?([^'\"\s#]+)")


@dataclass(frozen=True)
class CrdSource:
    name: str
    groups: tuple[str, ...]
    pin: Pin
    repository: str           # owner/name the CRD manifests (and the licence) come from
    ref: str                  # the git ref, from the pinned `{version}` (or `{app_version}`)
    files: tuple[str, ...]    # manifest URLs; `{ref}` and `{repository}` are filled in
    license: str = "Apache-2.0"
    license_file: str = "LICENSE"    # its path in the repository
    # A chart whose CRDs are those of its appVersion: the Chart.yaml to read it from.
    app_version_from: str | None = None

    def url(self, template: str, ref: str) -> str:
        return template.format(ref=ref, repository=self.repository)


def _raw(path: str) -> str:
    return RAW.replace("{path}", path)


CILIUM_CRDS = "pkg/k8s/apis/cilium.io/client/crds"
ENVOY_CRDS = "charts/gateway-helm/charts/crds/crds"
PROMETHEUS_CRDS = "example/prometheus-operator-crd"

SOURCES: tuple[CrdSource, ...] = (
    CrdSource(
        "cert-manager", ("cert-manager.io",), _chart_pin("cert-manager/cert-manager"),
        "cert-manager/cert-manager", "{version}",
        ("https://github.com/{repository}/releases/download/{ref}/cert-manager.crds.yaml",)),
    CrdSource(
        "cilium", ("cilium.io",), _chart_pin("kube-system/cilium"), "cilium/cilium", "v{version}",
        tuple(_raw(f"{CILIUM_CRDS}/{path}") for path in (
            "v2/ciliumnetworkpolicies.yaml", "v2/ciliumclusterwidenetworkpolicies.yaml",
            "v2/ciliumloadbalancerippools.yaml", "v2/ciliumbgpclusterconfigs.yaml",
            "v2/ciliumbgppeerconfigs.yaml", "v2/ciliumbgpadvertisements.yaml",
            "v2alpha1/ciliuml2announcementpolicies.yaml"))),
    CrdSource(
        # The Gateway API CRDs the cluster gets are the ones Envoy Gateway's chart bundles.
        "envoy-gateway", ("gateway.envoyproxy.io", "gateway.networking.k8s.io"),
        _chart_pin("network/envoy-gateway"), "envoyproxy/gateway", "v{version}",
        (_raw(f"{ENVOY_CRDS}/gatewayapi-crds.yaml"),
         *(_raw(f"{ENVOY_CRDS}/generated/gateway.envoyproxy.io_{plural}.yaml") for plural in (
             "envoyproxies", "backendtrafficpolicies", "clienttrafficpolicies", "securitypolicies",
             "envoyextensionpolicies")))),
    CrdSource(
        "external-dns", ("externaldns.k8s.io",), _chart_pin("network/cloudflare-dns"),
        "kubernetes-sigs/external-dns", "external-dns-helm-chart-{version}",
        (_raw("charts/external-dns/crds/dnsendpoints.externaldns.k8s.io.yaml"),), license_file="LICENSE.md"),
    CrdSource(
        "prometheus-operator-crds", ("monitoring.coreos.com",),
        Pin("templates/config/bootstrap/helmfile.d/00-crds.yaml.j2",
            r"name: prometheus-operator-crds\n(?:[ \t]+\S.*\n)*?[ \t]+version:\s*['\"]?([^'\"\s#]+)"),
        "prometheus-operator/prometheus-operator", "{app_version}",
        tuple(_raw(f"{PROMETHEUS_CRDS}/monitoring.coreos.com_{plural}.yaml") for plural in (
            "servicemonitors", "podmonitors", "prometheusrules", "probes", "alertmanagerconfigs")),
        app_version_from="https://raw.githubusercontent.com/prometheus-community/helm-charts/"
                         "prometheus-operator-crds-{version}/charts/prometheus-operator-crds/Chart.yaml"),
    CrdSource(
        # The cluster gets these CRDs from keycloak-k8s-resources at this tag (the GitRepository of
        # identity/keycloak/ks.yaml), whose version is keycloak_operator_version's default.
        "keycloak", ("k8s.keycloak.org",),
        Pin("lib/cluster_template/config/components/keycloak.py",
            r"keycloak_operator_version: SemVer = Field\(\s*\"([^\"]+)\""),
        "keycloak/keycloak-k8s-resources", "{version}",
        tuple(_raw(f"kubernetes/{plural}.k8s.keycloak.org-v1.yml") for plural in ("keycloaks", "keycloakrealmimports")),
        license_file="LICENSE.txt"),
    CrdSource(
        # flux-instance installs Flux 2.x; the CLI pin is the version the project is tested with.
        "flux", ("source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
                 "notification.toolkit.fluxcd.io"),
        Pin(".mise.toml", r"^\"aqua:fluxcd/flux2\"\s*=\s*\"([^\"]+)\""), "fluxcd/flux2", "v{version}",
        ("https://github.com/{repository}/releases/download/{ref}/install.yaml",)),
)


@dataclass(frozen=True)
class PlannedSource:
    source: CrdSource
    version: str
    ref: str | None                 # None until the appVersion is looked up (network)
    lookup: str | None              # the Chart.yaml URL that gives the ref, when there is one

    def urls(self) -> list[str]:
        return [self.source.url(template, self.ref or "{ref}") for template in self.source.files]


@dataclass
class UpdatePlan:
    sources: list[PlannedSource]
    kept_groups: list[str]          # shipped groups no source regenerates


@dataclass
class UpdateResult:
    files: dict[str, str] = field(default_factory=dict)      # path relative to the schema dir -> text
    stale: list[str] = field(default_factory=list)           # shipped files upstream no longer has
    groups: dict[str, str] = field(default_factory=dict)     # group -> "<repository>@<ref>"


def plan(root: Path, shipped_dir: Path, sources: tuple[CrdSource, ...] = SOURCES) -> UpdatePlan:
    """Resolve every source's pinned version (offline)."""
    planned = []
    for source in sources:
        version = source.pin.read(root)
        if source.app_version_from:
            planned.append(PlannedSource(source, version, None, source.app_version_from.format(version=version)))
        else:
            planned.append(PlannedSource(source, version, source.ref.format(version=version), None))
    covered = {group for source in sources for group in source.groups}
    shipped = sorted(path.name for path in (shipped_dir / "crds").iterdir() if path.is_dir())
    return UpdatePlan(planned, [group for group in shipped if group not in covered])


Fetch = Callable[[str], bytes]


def http_get(url: str) -> bytes:
    """GET over HTTPS; a clear message when offline or when upstream has no such file."""
    import httpx

    try:
        response = httpx.get(url, timeout=60, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SchemaUpdateError(f"cannot download {url} ({exc.__class__.__name__}: {exc}); "
                                "template.update-schemas needs access to github.com") from None
    if response.status_code == 404:
        raise SchemaUpdateError(f"{url} does not exist (HTTP 404): upstream moved or the pinned version "
                                "has no such file; update the CrdSource in cluster_template/schemas/update.py")
    if response.status_code != 200:
        raise SchemaUpdateError(f"downloading {url} answered HTTP {response.status_code}")
    return response.content


def _resolved_ref(planned: PlannedSource, get: Fetch) -> str:
    if planned.ref:
        return planned.ref
    if planned.lookup is None:  # plan() gives every source a ref or a lookup
        raise SchemaUpdateError(f"CRD source {planned.source.name} has neither a ref nor an appVersion lookup")
    return _app_version(get(planned.lookup), planned.lookup)


def fetch(update_plan: UpdatePlan, shipped_dir: Path, get: Fetch = http_get) -> UpdateResult:
    """Download and convert every planned source."""
    result = UpdateResult()
    for planned in update_plan.sources:
        source = planned.source
        ref = _resolved_ref(planned, get)
        converted: dict[str, str] = {}
        for url in (source.url(template, ref) for template in source.files):
            for document in _documents(get(url), url):
                if document.get("kind") != "CustomResourceDefinition":
                    continue
                if (document.get("spec") or {}).get("group") not in source.groups:
                    continue
                try:
                    schemas = crd_schemas(document)
                except NotACrd as exc:
                    raise SchemaUpdateError(f"{url}: {exc}") from None
                for relative, schema in schemas.items():
                    converted[f"crds/{relative}"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        licence = get(source.url(_raw(source.license_file), ref)).decode()
        for group in source.groups:
            mine = {path: text for path, text in converted.items() if path.startswith(f"crds/{group}/")}
            if not mine:
                raise SchemaUpdateError(f"{source.name} {ref}: the manifests hold no CRD of {group}; "
                                        "update the CrdSource in cluster_template/schemas/update.py")
            result.files.update(mine)
            result.files[f"crds/{group}/{licence_name(source)}"] = licence
            result.groups[group] = f"{source.repository}@{ref}"
            for existing in sorted((shipped_dir / "crds" / group).glob("*.json")):
                relative = f"crds/{group}/{existing.name}"
                if relative not in mine:
                    result.stale.append(relative)
    return result


def licence_name(source: CrdSource) -> str:
    return "LICENSE." + source.repository.replace("/", "-")


def sources_text(current: str, update_plan: UpdatePlan, result: UpdateResult) -> str:
    """SOURCES.md with the regenerated-groups table rewritten for `result` (other rows kept)."""
    if SOURCES_BEGIN not in current or SOURCES_END not in current:
        raise SchemaUpdateError(f"SOURCES.md has no {SOURCES_BEGIN} ... {SOURCES_END} block")
    head, rest = current.split(SOURCES_BEGIN, 1)
    old_block, tail = rest.split(SOURCES_END, 1)
    rows = {line.split("|")[1].strip(): line for line in old_block.splitlines()
            if line.startswith("| `crds/")}
    for group, origin in result.groups.items():
        repository, _, ref = origin.partition("@")
        source = next(p.source for p in update_plan.sources if group in p.source.groups)
        paths = ", ".join(f"`{_path_in_repo(source.url(template, ref), repository, ref)}`"
                          for template in source.files)
        rows[f"`crds/{group}/`"] = (f"| `crds/{group}/` | {repository} | {paths} (converted) | {ref} "
                                    f"(pinned in `{source.pin.file}`) | {source.license} "
                                    f"(`crds/{group}/{licence_name(source)}`) |")
    block = "\n" + _TABLE_HEAD + "".join(rows[key] + "\n" for key in sorted(rows))
    return head + SOURCES_BEGIN + block + SOURCES_END + tail


def _path_in_repo(url: str, repository: str, ref: str) -> str:
    for prefix in (f"https://raw.githubusercontent.com/{repository}/{ref}/",
                   f"https://github.com/{repository}/releases/download/{ref}/"):
        if url.startswith(prefix):
            kind = "" if prefix.startswith("https://raw") else "release asset "
            return kind + url.removeprefix(prefix)
    return url


def _documents(payload: bytes, url: str) -> list[dict]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return [doc for doc in YAML(typ="safe", pure=True).load_all(payload.decode()) if isinstance(doc, dict)]
    except (YAMLError, UnicodeDecodeError) as exc:
        raise SchemaUpdateError(f"{url}: not YAML ({exc.__class__.__name__})") from None


def _app_version(payload: bytes, url: str) -> str:
    documents = _documents(payload, url)
    version = documents[0].get("appVersion") if documents else None
    if not isinstance(version, str) or not version:
        raise SchemaUpdateError(f"{url}: no appVersion")
    return version


SCHEMA_FOLDER = "lib/cluster_template/schemas"


def plan_lines(update_plan: UpdatePlan, *, dry: bool) -> list[str]:
    """What the plan fetches, one line each (what `--dry` shows)."""
    verb = "would fetch" if dry else "fetch"
    lines = []
    for planned in update_plan.sources:
        source = planned.source
        lines.append(f"{source.name} {planned.version} (pinned in {source.pin.file}): {', '.join(source.groups)}")
        if planned.lookup:
            lines.append(f"  {verb}: {planned.lookup} (its appVersion is the ref)")
        lines.extend(f"  {verb}: {url}" for url in planned.urls())
        lines.append(f"  {verb}: {source.url(_raw(source.license_file), planned.ref or '{ref}')}")
    lines.extend(f"kept as shipped (no template pins a source for it): {group}" for group in update_plan.kept_groups)
    return lines


def refresh(root: Path, ex, get: Fetch = http_get,
            sources: tuple[CrdSource, ...] = SOURCES) -> tuple[UpdatePlan, list[tuple[str, str]]]:
    """Plan, fetch and write (through the executor, so `--dry` writes nothing and fetches nothing).
    Returns the plan and the `(action, path)` of every file changed."""
    target = root / SCHEMA_FOLDER
    if not (target / "SOURCES.md").is_file():
        raise SchemaUpdateError(f"{SCHEMA_FOLDER}/SOURCES.md not found: run this in the template repository")
    update_plan = plan(root, target, sources)
    if ex.dry:
        return update_plan, []
    result = fetch(update_plan, target, get)
    changed = []
    for relative, text in sorted(result.files.items()):
        action = ex.write_file(target / relative, text, label=f"{SCHEMA_FOLDER}/{relative}")
        if action != "unchanged":
            changed.append((action, f"{SCHEMA_FOLDER}/{relative}"))
    for relative in result.stale:
        ex.remove(target / relative, label=f"{SCHEMA_FOLDER}/{relative}")
        changed.append(("remove", f"{SCHEMA_FOLDER}/{relative}"))
    sources_md = sources_text((target / "SOURCES.md").read_text(), update_plan, result)
    if ex.write_file(target / "SOURCES.md", sources_md, label=f"{SCHEMA_FOLDER}/SOURCES.md") != "unchanged":
        changed.append(("update", f"{SCHEMA_FOLDER}/SOURCES.md"))
    return update_plan, changed
