"""A fake `helmfile` (v1) for the bootstrap helmfiles: `template` renders one CRD per release,
`sync` installs releases in `needs` order into the simulated cluster.

Follows helmfile v1 (`cmd/root.go`, `pkg/state/state_run.go`): global flags such as
`--file/-f`, `--quiet/-q`, `--namespace/-n`, `--selector/-l` go before or after the subcommand;
a release's ID is `namespace/name` (`kubeContext/namespace/name` with a context); `needs` that
name no release fail with helmfile's "depend(s) on an undefined release" error; releases sync in
dependency order (definition order within a group). A release the state marks as failing fails
the sync and the releases that need it are skipped, as helm's error would stop the DAG.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import fakestate
import fakeyaml
from fakecli import CliError, Command, Flag, Parsed, parse

DEFAULT_FILES = ("helmfile.yaml", "helmfile.yaml.gotmpl")


class HelmfileError(Exception):
    """Printed on stderr; exit code 1."""


def release_id(release: dict) -> str:
    parts = []
    if release.get("kubeContext"):
        parts.append(release["kubeContext"])
    if release.get("namespace"):
        parts.append(release["namespace"])
    elif release.get("kubeContext"):
        parts.append("")
    parts.append(release["name"])
    return "/".join(parts)


def state_files(parsed: Parsed) -> list[Path]:
    specified = parsed["file"]
    if specified:
        path = Path(specified)
        if path.is_dir():
            return sorted(p for p in path.iterdir() if p.name.endswith((".yaml", ".yml", ".yaml.gotmpl",
                                                                         ".yml.gotmpl")))
        if not path.is_file():
            raise HelmfileError(f"specified state file {specified} is not found")
        return [path]
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return [Path(name)]
    if Path("helmfile.d").is_dir():
        return sorted(p for p in Path("helmfile.d").iterdir() if p.name.endswith((".yaml", ".yml", ".gotmpl")))
    raise HelmfileError("no state file found. It must be named helmfile.d/*.{yaml,yml,yaml.gotmpl,yml.gotmpl}, "
                        "helmfile.yaml, or helmfile.yaml.gotmpl, otherwise specified with the --file flag or "
                        "HELMFILE_FILE_PATH environment variable")


def load_releases(path: Path, default_namespace: str) -> list[dict]:
    try:
        documents = fakeyaml.load_all(path.read_text())
    except fakeyaml.YamlError as error:
        raise HelmfileError(f"in {path}: failed to read {path.name}: reading document at index 1: {error}") from None
    releases: list[dict] = []
    for document in documents:
        if not isinstance(document, dict):
            continue
        for release in document.get("releases") or []:
            if not isinstance(release, dict) or not release.get("name"):
                raise HelmfileError(f"in {path}: release without a name")
            release = dict(release)
            if not release.get("namespace") and default_namespace:
                release["namespace"] = default_namespace
            releases.append(release)
    return releases


def select(releases: list[dict], selectors: list[str]) -> list[dict]:
    """--selector name=x,namespace=y (groups are ORed, labels within a group ANDed)."""
    if not selectors:
        return releases
    chosen = []
    for release in releases:
        labels = {"name": release["name"], "namespace": release.get("namespace", ""),
                  **{str(k): str(v) for k, v in (release.get("labels") or {}).items()}}
        for group in selectors:
            if all(_match(labels, term) for term in group.split(",")):
                chosen.append(release)
                break
    return chosen


def _match(labels: dict, term: str) -> bool:
    if "!=" in term:
        key, value = term.split("!=", 1)
        return labels.get(key) != value
    key, _, value = term.partition("=")
    return labels.get(key) == value


def plan(releases: list[dict], selected: list[dict] | None = None) -> list[dict]:
    """Order the selected releases so every release follows its needs (helmfile's DAG, definition
    order kept within a group). Needs must name a release of the file; needs outside the selection
    are skipped, as with helmfile's default --skip-needs."""
    defined = {release_id(r) for r in releases}
    undefined: dict[str, list[str]] = {}
    for release in releases:
        for need in release.get("needs") or []:
            if need not in defined:
                undefined.setdefault(need, []).append(release_id(release))
    if undefined:
        need, dependents = next(iter(undefined.items()))
        name = need.split("/")[-1]
        quoted = ", ".join(f'"{d}"' for d in dependents)
        raise HelmfileError(f'release(s) {quoted} depend(s) on an undefined release "{need}". Perhaps you made a typo '
                            f'in "needs" or forgot defining a release named "{name}" with appropriate "namespace" '
                            'and "kubeContext"?')
    chosen = releases if selected is None else selected
    by_id = {release_id(r): r for r in chosen}
    index = {release_id(r): i for i, r in enumerate(chosen)}
    ordered: list[dict] = []
    done: set[str] = set()
    remaining = list(by_id)
    while remaining:
        group = [rid for rid in remaining
                 if all(n in done or n not in by_id for n in by_id[rid].get("needs") or [])]
        if not group:
            raise HelmfileError(f"circular dependency detected between releases: {', '.join(remaining)}")
        group.sort(key=lambda rid: index[rid])
        ordered.extend(by_id[rid] for rid in group)
        done.update(group)
        remaining = [rid for rid in remaining if rid not in done]
    return ordered


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", name) if part)


def crd_for(release: dict) -> str:
    """A minimal, deterministic CustomResourceDefinition standing in for the chart's CRDs."""
    kind = camel(release["name"]) + "Config"
    plural = kind.lower() + "s"
    group = f"{release['name']}.fake.helmfile.test"
    chart = str(release.get("chart", release["name"])).rstrip("/").split("/")[-1]
    return (
        "---\n"
        f"# Source: {chart}/crds/{plural}.yaml\n"
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "metadata:\n"
        f"  name: {plural}.{group}\n"
        "  labels:\n"
        f"    app.kubernetes.io/instance: {release['name']}\n"
        f"    helm.sh/chart: {chart}-{release.get('version', '0.0.0')}\n"
        "spec:\n"
        f"  group: {group}\n"
        "  names:\n"
        f"    kind: {kind}\n"
        f"    listKind: {kind}List\n"
        f"    plural: {plural}\n"
        f"    singular: {kind.lower()}\n"
        "  scope: Namespaced\n"
        "  versions:\n"
        "    - name: v1\n"
        "      served: true\n"
        "      storage: true\n"
        "      schema:\n"
        "        openAPIV3Schema:\n"
        "          type: object\n"
        "          x-kubernetes-preserve-unknown-fields: true\n"
    )


def gather(parsed: Parsed) -> list[tuple[Path, list[dict]]]:
    """(state file, releases in sync order) for every state file."""
    loaded = []
    for path in state_files(parsed):
        releases = load_releases(path, parsed["namespace"])
        loaded.append((path, plan(releases, select(releases, parsed["selector"]))))
    if not any(releases for _, releases in loaded) and parsed["selector"]:
        raise HelmfileError(f"err: no releases found that matches specified selector({','.join(parsed['selector'])}) "
                            "and environment(default), in any helmfile")
    return loaded


def info(parsed: Parsed, message: str) -> None:
    if not parsed["quiet"] and parsed["log-level"] not in ("warn", "error"):
        sys.stderr.write(message + "\n")


def cmd_template(parsed: Parsed) -> int:
    loaded = gather(parsed)
    chunks = []
    for path, releases in loaded:
        for release in releases:
            info(parsed, f"Templating release={release['name']}, chart={release.get('chart', '')}")
            chunks.append(crd_for(release))
    with fakestate.locked_state() as state:
        state["helmfile"].setdefault("templated", []).append({"files": [str(p) for p, _ in loaded],
                                                              "ts": round(fakestate.now(), 3)})
    sys.stdout.write("".join(chunks))
    return 0


def cmd_sync(parsed: Parsed) -> int:
    loaded = gather(parsed)
    updated: list[tuple[dict, float]] = []
    failures: list[tuple[dict, str]] = []
    for path, ordered in loaded:
        unreachable = cluster_unreachable(parsed)
        if unreachable:
            raise HelmfileError(f"in {path}: command \"helm\" exited with non-zero status:\n\nSTDERR:\n  Error: "
                                f"Kubernetes cluster unreachable: {unreachable}")
        blocked: set[str] = set()
        for release in ordered:
            rid = release_id(release)
            if any(need in blocked for need in release.get("needs") or []):
                blocked.add(rid)
                continue
            started = time.monotonic()
            with fakestate.locked_state() as state:
                hf = state["helmfile"]
                synced_ids = {entry["id"] for entry in hf["synced"]}
                missing = [n for n in release.get("needs") or [] if n not in synced_ids]
                failure = hf.get("fail_releases", {}).get(release["name"])
                if missing:
                    failure = f"needs {', '.join(missing)} that are not installed"
                if failure:
                    blocked.add(rid)
                    failures.append((release, f'in {path}: failed processing release {release["name"]}: command '
                                              f'"helm" exited with non-zero status:\n\nSTDERR:\n  Error: UPGRADE '
                                              f"FAILED: {failure}"))
                    continue
                hf["synced"] = [entry for entry in hf["synced"] if entry["id"] != rid]
                hf["synced"].append({"id": rid, "name": release["name"], "namespace": release.get("namespace", ""),
                                     "chart": release.get("chart", ""), "version": str(release.get("version", "")),
                                     "file": str(path), "ts": round(fakestate.now(), 3),
                                     "hide_notes": parsed["hide-notes"]})
                apply_release_effects(state, release)
            info(parsed, f"Upgrading release={release['name']}, chart={release.get('chart', '')}, "
                         f"namespace={release.get('namespace', '')}")
            updated.append((release, time.monotonic() - started))
    if updated:
        info(parsed, "\nUPDATED RELEASES:\n" + releases_table([(r, f"{round(d)}s") for r, d in updated]))
    if failures:
        sys.stderr.write("\nFAILED RELEASES:\n" + releases_table([(r, "") for r, _ in failures]))
        raise HelmfileError(failures[0][1])
    return 0


def releases_table(entries: list[tuple[dict, str]]) -> str:
    """helmfile's summary table (columns separated by three spaces, duration right-aligned)."""
    rows = [["NAME", "NAMESPACE", "CHART", "VERSION", "DURATION"]]
    rows += [[r["name"], r.get("namespace", ""), str(r.get("chart", "")), str(r.get("version", "")), duration]
             for r, duration in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["   ".join(cell.rjust(widths[i]) if i == 4 else cell.ljust(widths[i])
                        for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def cluster_unreachable(parsed: Parsed) -> str | None:
    """Why helm cannot reach the API server: no kubeconfig (helm then tries localhost:8080) or the
    simulated API is down; None when it is reachable."""
    path = fakestate.kubeconfig_path(parsed["kubeconfig"])
    if path is None:
        return 'Get "http://localhost:8080/version": dial tcp [::1]:8080: connect: connection refused'
    if not fakestate.kube_api_up(fakestate.snapshot()):
        try:
            config = fakeyaml.load(path.read_text()) or {}
            server = next((c.get("cluster", {}).get("server") for c in config.get("clusters") or []), None)
        except fakeyaml.YamlError:
            server = None
        server = server or "https://127.0.0.1:6443"
        host = re.sub(r"^https?://", "", server).split("/")[0]
        return f'Get "{server.rstrip("/")}/version": dial tcp {host}: connect: connection refused'
    return None


def apply_release_effects(state: dict, release: dict) -> None:
    """What installing a bootstrap release changes in the simulated cluster."""
    cluster = state["cluster"]
    if release["name"] in cluster.get("cni_releases", fakestate.DEFAULT_CNI_RELEASES):
        cluster["cni_ready"] = True
    if release["name"] == "flux-instance":
        flux = state["flux"]
        flux["installed"] = True
        if not flux["gitrepositories"] and not flux["kustomizations"]:
            from_cluster = _default_flux_objects()
            flux["gitrepositories"] = from_cluster["gitrepositories"]
            flux["kustomizations"] = from_cluster["kustomizations"]
    fakestate.refresh_derived(state)


def _default_flux_objects() -> dict:
    revision = "refs/heads/main@sha1:" + "0123456789abcdef0123456789abcdef01234567"
    return {
        "gitrepositories": [{"name": "flux-system", "namespace": "flux-system", "ready": True, "suspended": False,
                             "revision": revision, "message": f"stored artifact for revision '{revision}'",
                             "reconcile_count": 0}],
        "kustomizations": [{"name": "flux-system", "namespace": "flux-system", "ready": True, "suspended": False,
                            "revision": revision, "message": f"Applied revision: {revision}", "reconcile_count": 0,
                            "source": "GitRepository/flux-system"}],
    }


def build() -> Command:
    persistent = [
        Flag("helm-binary", "string", "b"), Flag("kustomize-binary", "string", "k"),
        Flag("file", "string", "f", help='load config from file or directory. defaults to "helmfile.yaml"'),
        Flag("environment", "string", "e", help="specify the environment name"),
        Flag("state-values-set", "array"), Flag("state-values-set-string", "array"),
        Flag("state-values-file", "array"), Flag("skip-deps", "bool"), Flag("skip-refresh", "bool"),
        Flag("strip-args-values-on-exit-error", "bool", default=True), Flag("disable-force-update", "bool"),
        Flag("enforce-plugin-verification", "bool"), Flag("oci-plain-http", "bool"), Flag("repo-retries", "int"),
        Flag("quiet", "bool", "q", help="Silence output. Equivalent to log-level warn"),
        Flag("kubeconfig"), Flag("kube-context"), Flag("debug", "bool"), Flag("color", "bool"),
        Flag("no-color", "bool"), Flag("log-level", default="info"),
        Flag("namespace", "string", "n", help="Set namespace"), Flag("chart", "string", "c"),
        Flag("selector", "array", "l", help="Only run using the releases that match labels"),
        Flag("allow-no-matching-release", "bool"), Flag("enable-live-output", "bool"),
        Flag("interactive", "bool", "i"), Flag("sequential-helmfiles", "bool"),
    ]
    common = [Flag("args"), Flag("set", "array"), Flag("values", "array"), Flag("concurrency", "int"),
              Flag("validate", "bool"), Flag("skip-needs", "bool", default=True), Flag("include-needs", "bool"),
              Flag("include-transitive-needs", "bool"), Flag("enforce-needs-are-installed", "bool"),
              Flag("post-renderer"), Flag("post-renderer-args", "array"), Flag("skip-schema-validation", "bool"),
              Flag("template-args")]
    template_flags = common + [Flag("output-dir"), Flag("output-dir-template"), Flag("include-crds", "bool"),
                               Flag("skip-tests", "bool"), Flag("skip-cleanup", "bool"), Flag("no-hooks", "bool"),
                               Flag("kube-version"), Flag("show-only", "array")]
    sync_flags = common + [Flag("sync-args"), Flag("skip-crds", "bool"), Flag("hide-notes", "bool"),
                           Flag("take-ownership", "bool"), Flag("server-side"), Flag("sync-release-labels", "bool"),
                           Flag("wait", "bool"), Flag("wait-for-jobs", "bool"), Flag("timeout", "int"),
                           Flag("reuse-values", "bool"), Flag("reset-values", "bool"), Flag("cascade"),
                           Flag("track-mode"), Flag("track-timeout", "int"), Flag("track-logs", "bool"),
                           Flag("description")]
    root = Command("helmfile", persistent=persistent, short_help="Declaratively deploy your Kubernetes manifests")
    root.flags.append(Flag("version", "bool", "v", help="version for helmfile"))
    root.add(
        Command("template", run=cmd_template, args=(0, 0), flags=template_flags,
                short_help="Template releases defined in state file"),
        Command("sync", run=cmd_sync, args=(0, 0), flags=sync_flags,
                short_help="Sync releases defined in state file"),
    )
    return root


def main(argv: list[str]) -> int:
    root = build()
    try:
        parsed = parse(root, argv)
    except CliError as error:
        if str(error) == "help requested":
            sys.stdout.write((error.command or root).usage())
            return 0
        sys.stderr.write(f"Error: {error}\n")
        return 1
    if parsed.command is root:
        if parsed["version"]:
            version = fakestate.client_version("helmfile")
            sys.stdout.write(f"helmfile version {version}\n")
            return 0
        sys.stdout.write(root.usage())
        return 0
    try:
        return parsed.command.run(parsed)
    except HelmfileError as error:
        sys.stderr.write(f"{error}\n")
        return 1
