"""A fake `flux` CLI (v2.7) answering from the simulated cluster's `flux` section.

Follows flux2 v2.7.5 `cmd/flux`: progress and errors go to stderr with the CLI's symbols
(`►` action, `◎` waiting, `✔` success, `✗` failure), errors exit 1 without a usage text,
`flux get` prints the olekukonko/tablewriter table (NAME REVISION SUSPENDED READY MESSAGE, with
NAMESPACE first under -A; hex digests shortened to 8 characters). `flux get` has no -o flag.

The Kubernetes API is "up" once etcd is bootstrapped and a control plane runs; a kubeconfig must
exist (--kubeconfig, $KUBECONFIG or ~/.kube/config), as for the real client.
"""

from __future__ import annotations

import os
import re
import sys

import fakestate
import fakeyaml
from fakecli import CliError, Command, Flag, Parsed, parse, tablewriter

KUBERNETES_CONSTRAINT = ">=1.32.0-0"
NO_CONFIG = "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"
KINDS = {
    "kustomizations": ("Kustomization", "kustomize.toolkit.fluxcd.io", "v1"),
    "helmreleases": ("HelmRelease", "helm.toolkit.fluxcd.io", "v2"),
    "gitrepositories": ("GitRepository", "source.toolkit.fluxcd.io", "v1"),
}
CONTROLLERS = {
    "helm-controller": "ghcr.io/fluxcd/helm-controller:v1.4.5",
    "kustomize-controller": "ghcr.io/fluxcd/kustomize-controller:v1.7.3",
    "notification-controller": "ghcr.io/fluxcd/notification-controller:v1.7.5",
    "source-controller": "ghcr.io/fluxcd/source-controller:v1.7.4",
}
CRDS = [
    "alerts.notification.toolkit.fluxcd.io/v1beta3", "buckets.source.toolkit.fluxcd.io/v1",
    "externalartifacts.source.toolkit.fluxcd.io/v1", "gitrepositories.source.toolkit.fluxcd.io/v1",
    "helmcharts.source.toolkit.fluxcd.io/v1", "helmreleases.helm.toolkit.fluxcd.io/v2",
    "helmrepositories.source.toolkit.fluxcd.io/v1", "kustomizations.kustomize.toolkit.fluxcd.io/v1",
    "ocirepositories.source.toolkit.fluxcd.io/v1", "providers.notification.toolkit.fluxcd.io/v1beta3",
    "receivers.notification.toolkit.fluxcd.io/v1",
]
HEX = re.compile(r"\b[a-f0-9]{40,128}\b")


class FluxError(Exception):
    """Printed as `✗ <message>` on stderr; exit code 1."""


def log(symbol: str, message: str) -> None:
    sys.stderr.write(f"{symbol} {message}\n")


def truncate_hex(text: str) -> str:
    return HEX.sub(lambda match: match.group(0)[:8], text)


# -- Kubernetes access ----------------------------------------------------------------------------

def kubeconfig_server(parsed: Parsed) -> str:
    """The API server URL of the selected kubeconfig context; FluxError when there is no kubeconfig."""
    if parsed["server"]:
        return parsed["server"]
    path = fakestate.kubeconfig_path(parsed["kubeconfig"])
    if path is None:
        if parsed["kubeconfig"]:
            raise FluxError(f'stat {parsed["kubeconfig"]}: no such file or directory')
        raise FluxError(NO_CONFIG)
    try:
        config = fakeyaml.load(path.read_text()) or {}
    except fakeyaml.YamlError as error:
        raise FluxError(f"error loading config file \"{path}\": {error}") from None
    return server_of(config, parsed["context"]) or "https://127.0.0.1:6443"


def server_of(config: dict, context_name: str) -> str | None:
    name = context_name or config.get("current-context")
    context = next((c.get("context", {}) for c in config.get("contexts") or [] if c.get("name") == name), {})
    cluster = next((c.get("cluster", {}) for c in config.get("clusters") or []
                    if c.get("name") == context.get("cluster")), {})
    return cluster.get("server")


def connect(parsed: Parsed, state: dict) -> None:
    """Fail like client-go when the API server does not answer."""
    server = kubeconfig_server(parsed)
    if not fakestate.kube_api_up(state):
        host = re.sub(r"^https?://", "", server).split("/")[0]
        raise FluxError(f'Get "{server.rstrip("/")}/api?timeout=32s": dial tcp {host}: connect: connection refused')


def require_crds(state: dict, kind: str) -> None:
    if not state["flux"].get("installed"):
        name, group, version = KINDS[kind]
        raise FluxError(f'no matches for kind "{name}" in version "{group}/{version}"')


def namespace_of(parsed: Parsed) -> str:
    return parsed["namespace"]


# -- commands ----------------------------------------------------------------------------------------

def cmd_check(parsed: Parsed) -> int:
    log("►", "checking prerequisites")
    with fakestate.locked_state() as state:
        try:
            connect(parsed, state)
        except FluxError as error:
            raise FluxError(f"Kubernetes client initialization failed: {error}") from None
        version = state["cluster"].get("kubernetes_version", "v1.35.0").lstrip("v")
        failed = False
        if tuple(int(p) for p in re.findall(r"\d+", version)[:2]) < (1, 32):
            log("✗", f"Kubernetes version {version} does not match {KUBERNETES_CONSTRAINT}")
            failed = True
        else:
            log("✔", f"Kubernetes {version} {KUBERNETES_CONSTRAINT}")
        if parsed["pre"]:
            if failed:
                return 1
            log("✔", "prerequisites checks passed")
            return 0
        flux = state["flux"]
        namespace = namespace_of(parsed)
        log("►", "checking version in cluster")
        if not flux.get("installed"):
            log("✗", 'checking failed: customresourcedefinitions.apiextensions.k8s.io "gitrepositories.source.'
                     'toolkit.fluxcd.io" not found')
            failed = True
        else:
            log("✔", f"distribution: flux-{fakestate.tool_version(state, 'flux')}")
            log("✔", "bootstrapped: false")
        log("►", "checking controllers")
        if not flux.get("installed"):
            log("✗", f"no controllers found in the '{namespace}' namespace with the label selector "
                     "'app.kubernetes.io/part-of=flux'")
            failed = True
        else:
            unready = set(flux.get("unready_controllers", []))
            for name, image in CONTROLLERS.items():
                if name in unready:
                    log("✗", f"{name}: deployment not ready")
                    failed = True
                else:
                    log("✔", f"{name}: deployment ready")
                log("►", image)
        log("►", "checking crds")
        if not flux.get("installed"):
            log("✗", "no crds found with the label selector 'app.kubernetes.io/part-of=flux'")
            failed = True
        else:
            for crd in CRDS:
                log("✔", crd)
    if failed:
        log("✗", "check failed")
        return 1
    log("✔", "all checks passed")
    return 0


def find_object(state: dict, kind: str, namespace: str, name: str) -> dict:
    for item in state["flux"][kind]:
        if item["namespace"] == namespace and item["name"] == name:
            return item
    resource = f"{kind}.{KINDS[kind][1]}"
    raise FluxError(f'{resource} "{name}" not found')


def reconcile_object(parsed: Parsed, kind: str, name: str, namespace: str, *, quoted: bool) -> None:
    """Annotate one object, 'wait', and report its Ready condition from the state."""
    display = KINDS[kind][0]
    with fakestate.locked_state() as state:
        item = find_object(state, kind, namespace, name)
        if item.get("suspended"):
            raise FluxError("resource is suspended")
        log("►", f"annotating {display} {name} in {namespace} namespace")
        item["reconcile_count"] = item.get("reconcile_count", 0) + 1
        if item.get("ready_after_reconciles") is not None and item["reconcile_count"] >= item["ready_after_reconciles"]:
            item["ready"] = True
        ready, message, revision = item["ready"], item["message"], item["revision"]
    log("✔", f"{display} annotated")
    log("◎", f"waiting for {display} reconciliation")
    if not ready:
        detail = f"'{message}'" if quoted else message
        raise FluxError(f"{display} reconciliation failed: {detail}")
    verb = "fetched" if kind == "gitrepositories" else "applied"
    log("✔", f"{verb} revision {revision}")


def cmd_reconcile_with_source(kind: str):
    def run(parsed: Parsed) -> int:
        if not parsed.args:
            raise FluxError(f"{KINDS[kind][0]} name is required")
        name = parsed.args[0]
        namespace = namespace_of(parsed)
        with fakestate.locked_state() as state:
            connect(parsed, state)
            require_crds(state, kind)
            item = find_object(state, kind, namespace, name)
            if item.get("suspended"):
                raise FluxError("resource is suspended")
            source = item.get("source") or "GitRepository/flux-system"
        if parsed["with-source"]:
            source_kind, _, source_ref = source.partition("/")
            source_namespace, _, source_name = source_ref.rpartition("/")
            if source_kind != "GitRepository":
                raise FluxError(f"cannot reconcile source of kind {source_kind}")
            reconcile_object(parsed, "gitrepositories", source_name, source_namespace or namespace, quoted=True)
        reconcile_object(parsed, kind, name, namespace, quoted=False)
        return 0
    return run


def cmd_reconcile_source_git(parsed: Parsed) -> int:
    if not parsed.args:
        raise FluxError("GitRepository name is required")
    with fakestate.locked_state() as state:
        connect(parsed, state)
        require_crds(state, "gitrepositories")
    reconcile_object(parsed, "gitrepositories", parsed.args[0], namespace_of(parsed), quoted=True)
    return 0


def cmd_get(kind: str):
    def run(parsed: Parsed) -> int:
        display = KINDS[kind][0]
        namespace = namespace_of(parsed)
        everywhere = parsed["all-namespaces"]
        with fakestate.locked_state() as state:
            connect(parsed, state)
            require_crds(state, kind)
            items = [i for i in state["flux"][kind] if everywhere or i["namespace"] == namespace]
        if parsed.args:
            items = [i for i in items if i["name"] == parsed.args[0]]
        where = "any" if everywhere else f'"{namespace}"'
        if not items:
            if parsed.args:
                raise FluxError(f"{display} object '{parsed.args[0]}' not found in {where} namespace")
            raise FluxError(f"no {display} objects found in {where} namespace")
        selector = parsed["status-selector"]
        if selector:
            condition, separator, wanted = selector.partition("=")
            if not separator:
                raise FluxError(f"expected status selector in type=status format, but found: {selector}")
            items = [i for i in items if condition.lower() == "ready"
                     and wanted.lower() == ("true" if i["ready"] else "false")]
        items.sort(key=lambda i: (i["namespace"], i["name"]))
        header = [] if parsed["no-header"] else (["Namespace"] if everywhere else []) + \
            ["Name", "Revision", "Suspended", "Ready", "Message"]
        rows = []
        for item in items:
            revision = item["revision"] if kind == "helmreleases" else truncate_hex(item["revision"])
            row = [item["name"], revision, "True" if item.get("suspended") else "False",
                   "True" if item["ready"] else "False", truncate_hex(item["message"])]
            rows.append(([item["namespace"]] if everywhere else []) + row)
        sys.stdout.write(tablewriter(header, rows))
        return 0
    return run


def cmd_version(parsed: Parsed) -> int:
    output = parsed["output"]
    if output not in ("yaml", "json"):
        raise FluxError(f"--output must be json or yaml, not {output}")
    version = fakestate.client_version("flux")
    info: dict = {"flux": version}
    if not parsed["client"]:
        with fakestate.locked_state() as state:
            connect(parsed, state)
            if not state["flux"].get("installed"):
                raise FluxError(f"no deployments found in {namespace_of(parsed)} namespace")
            info["distribution"] = f"flux-{version}"
            for name, image in sorted(CONTROLLERS.items()):
                info[name] = image.rsplit(":", 1)[1]
    if output == "json":
        import json
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
    else:
        sys.stdout.write("".join(f"{key}: {value}\n" for key, value in info.items()))
    return 0


# -- command tree ----------------------------------------------------------------------------------

def _root_flags() -> list[Flag]:
    flags = [
        Flag("timeout", "duration", default=300.0, help="timeout for this operation"),
        Flag("verbose", "bool", help="print generated objects"),
        Flag("namespace", "string", "n", default=os.environ.get("FLUX_SYSTEM_NAMESPACE") or "flux-system",
             help="If present, the namespace scope for this CLI request"),
        Flag("server", help="The address and port of the Kubernetes API server"),
        Flag("kube-api-qps", "string", help="The maximum queries-per-second of requests sent to the Kubernetes API."),
        Flag("kube-api-burst", "int", help="The maximum burst queries-per-second of requests sent to the Kubernetes API."),
    ]
    for name in ("kubeconfig", "context", "cluster", "user", "token", "as", "as-uid", "certificate-authority",
                 "client-certificate", "client-key", "tls-server-name", "cache-dir"):
        flags.append(Flag(name))
    flags += [Flag("as-group", "array"), Flag("insecure-skip-tls-verify", "bool"),
              Flag("disable-compression", "bool")]
    return flags


def build() -> Command:
    root = Command("flux", persistent=_root_flags(), short_help="Command line utility for assembling Kubernetes "
                                                               "CD pipelines the GitOps way.")
    root.flags.append(Flag("version", "bool", "v", help="version for flux"))
    get_flags = [
        Flag("all-namespaces", "bool", "A", help="list the requested object(s) across all namespaces"),
        Flag("no-header", "bool", help="skip the header when printing the results"),
        Flag("watch", "bool", "w", help="After listing/getting the requested object, watch for changes."),
        Flag("status-selector", help="specify the status condition name and the desired state to filter the get "
                                     "result, e.g. ready=false"),
        Flag("label-selector", "string", "l", help="filter objects by label selector"),
    ]
    get = Command("get", persistent=get_flags, short_help="Get the resources and their status")
    get.add(
        Command("kustomizations", aliases=("ks", "kustomization"), args=(0, 1), run=cmd_get("kustomizations"),
                short_help="Get Kustomization statuses"),
        Command("helmreleases", aliases=("hr", "helmrelease"), args=(0, 1), run=cmd_get("helmreleases"),
                short_help="Get HelmRelease statuses"),
        Command("sources", aliases=("source",), short_help="Get source statuses").add(
            Command("git", args=(0, 1), run=cmd_get("gitrepositories"), short_help="Get GitRepository source "
                                                                                    "statuses")),
    )
    reconcile = Command("reconcile", short_help="Reconcile sources and resources")
    reconcile.add(
        Command("kustomization", use="kustomization [name]", aliases=("ks",), args=None,
                run=cmd_reconcile_with_source("kustomizations"),
                flags=[Flag("with-source", "bool", help="reconcile Kustomization source")],
                short_help="Reconcile a Kustomization resource"),
        Command("helmrelease", use="helmrelease [name]", aliases=("hr",), args=None,
                run=cmd_reconcile_with_source("helmreleases"),
                flags=[Flag("with-source", "bool", help="reconcile HelmRelease source"),
                       Flag("force", "bool", help="force a one-off install or upgrade of the HelmRelease resource"),
                       Flag("reset", "bool", help="reset the failure count for this HelmRelease resource")],
                short_help="Reconcile a HelmRelease resource"),
        Command("source", short_help="Reconcile sources").add(
            Command("git", use="git [name]", args=None, run=cmd_reconcile_source_git,
                    short_help="Reconcile a GitRepository source")),
    )
    root.add(
        Command("check", run=cmd_check, args=(0, 0), short_help="Check requirements and installation", flags=[
            Flag("pre", "bool", help="only run pre-installation checks"),
            Flag("components", "strings", help="list of components"),
            Flag("components-extra", "strings", help="list of components in addition to those supplied or defaulted"),
            Flag("poll-interval", "duration", default=5.0, help="how often the health checker should poll")]),
        get,
        reconcile,
        Command("version", run=cmd_version, args=(0, 0), short_help="Print the client and server-side components "
                                                                    "version information.", flags=[
            Flag("client", "bool", help="print only client version"),
            Flag("output", "string", "o", default="yaml", help="the format in which the information should be "
                                                               "printed. can be 'json' or 'yaml'")]),
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
        log("✗", str(error))
        return 1
    if parsed.command is root:
        if parsed["version"]:
            sys.stdout.write(f"flux version {fakestate.client_version('flux').lstrip('v')}\n")
            return 0
        sys.stdout.write(root.usage())
        return 0
    if parsed.command.run is None:
        sys.stdout.write(parsed.command.usage())
        return 0
    namespace = parsed["namespace"]
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace or "") or len(namespace) > 63:
        log("✗", f'namespace must be a valid DNS label: "{namespace}"')
        return 1
    try:
        return parsed.command.run(parsed)
    except FluxError as error:
        log("✗", str(error))
        return 1
