"""HTTP access to the Kubernetes API through the official client's configuration and connection pool.

The kubeconfig is loaded with `kubernetes.config` (contexts, certificates, tokens, exec plugins,
TLS settings), and requests go through the client's REST layer, so TLS, proxies and credentials
behave exactly as in the official client. Bodies and answers stay plain JSON dicts.

Discovery and server-side apply go through the client's `kubernetes.dynamic.DynamicClient`
(`dynamic`), on the same connection pool. Two things are added to it: every request it makes gets
this transport's timeout (its discovery requests set none, and an absent API server would hang
them), and its discovery stays in memory (by default it writes a cache file into the temp folder,
shared by every process that reaches the same URL, which would outlive a CRD installed or removed
since). Reads of single objects and lists stay on `request`: they need no discovery.

Every failure becomes a `KubeAccessError`: no client exception or traceback reaches a user.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from .errors import KubeConfigError, KubeError, KubeUnreachable

QueryValue = str | int | bool
# Server messages can be long (a full validation report); keep what a terminal line can hold.
MAX_MESSAGE_LENGTH = 600


def _identity(text: str) -> str:
    return text


class KubeTransport:
    """One API server, reached with the credentials of one kubeconfig file (never the default one)."""

    def __init__(self, kubeconfig: Path, *, timeout: float = 30.0,
                 redact: Callable[[str], str] = _identity, context: str | None = None):
        self.kubeconfig = Path(kubeconfig)
        self.timeout = timeout
        self._redact = redact
        self._client = self._load(context)
        self.server: str = self._client.configuration.host
        self._dynamic: Any = None

    def _load(self, context: str | None) -> Any:
        if not self.kubeconfig.is_file():
            raise KubeConfigError(self.kubeconfig, "the file does not exist")
        from kubernetes.client import ApiClient, Configuration
        from kubernetes.config import kube_config

        # type.__call__ skips Configuration's "copy of the process default" constructor, so nothing
        # set globally (or by another Kube) leaks into this client.
        configuration = type.__call__(Configuration)
        try:
            kube_config.load_kube_config(config_file=str(self.kubeconfig), context=context,
                                         client_configuration=configuration, persist_config=False)
        except Exception as error:  # noqa: BLE001 - the loader raises ConfigException, YAML, OS and key errors
            detail = str(error).strip() or type(error).__name__
            raise KubeConfigError(self.kubeconfig, self._redact(detail)) from None
        # No retries inside a request: a failure is reported at once (waits poll and retry on their
        # own), and urllib3 would log a warning for every retry, which would reach the terminal.
        configuration.retries = False
        return ApiClient(configuration=configuration)

    def close(self) -> None:
        self._client.close()

    def dynamic(self, action: str) -> Any:
        """The DynamicClient on this connection (created on first use: it discovers the API groups
        at once, which needs a reachable server)."""
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            with self.answered(action):
                self._dynamic = DynamicClient(_Timed(self._client, self.timeout), discoverer=_in_memory_discoverer(),
                                              cache_file=str(Path(tempfile.gettempdir()) / f"unused-{uuid.uuid4()}"))
        return self._dynamic

    @contextlib.contextmanager
    def answered(self, action: str) -> Iterator[None]:
        """Turn the client's exceptions inside the block into KubeUnreachable (no HTTP answer) or
        KubeError (an error status), with redacted messages."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            yield
        except ApiException as error:
            # Older clients raise for every error status; all of them raise status 0 for TLS errors.
            if not error.status:
                raise KubeUnreachable(self.server, _describe_api_exception(error)) from None
            raise self._status_error(action, error.status, error.body) from None
        except urllib3.exceptions.HTTPError as error:
            raise KubeUnreachable(self.server, describe_transport_error(error, self.timeout)) from None

    # -- requests ----------------------------------------------------------------------------

    def request(self, method: str, path: str, *, action: str,
                query: Mapping[str, QueryValue] | Sequence[tuple[str, QueryValue]] | None = None,
                body: Any = None, content_type: str | None = None) -> Any:
        """Send one request; returns the decoded JSON answer (a dict for every API object).

        Raises KubeUnreachable when no HTTP answer came back and KubeError for an error status.
        `action` says what was being done ("get node k8s-0"), for the error message. `body` is a
        dict, sent as JSON (also for `application/apply-patch+yaml`: JSON is valid YAML)."""
        url = self.server.rstrip("/") + path
        if query:
            items = query.items() if isinstance(query, Mapping) else query
            url += "?" + urlencode([(key, _query_text(value)) for key, value in items], quote_via=quote)
        headers = {**self._client.default_headers, "Accept": "application/json", **self._auth_headers()}
        if body is not None:
            # The REST layer serialises a dict body as JSON for JSON content types and for
            # application/apply-patch+yaml alike (JSON is valid YAML), in old and new clients.
            headers["Content-Type"] = content_type or "application/json"
        with self.answered(action):
            response = self._client.rest_client.request(method, url, headers=headers, body=body,
                                                        _request_timeout=self.timeout)
            status, data = _read(response)
        if not 200 <= status <= 299:
            raise self._status_error(action, status, data)
        return _decode(data)

    def _auth_headers(self) -> dict[str, str]:
        """Credentials from the kubeconfig (a bearer token, possibly refreshed by an exec plugin);
        client certificates are handled by the connection pool."""
        headers = {}
        for setting in self._client.configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        return headers

    def _status_error(self, action: str, status: int, data: Any) -> KubeError:
        reason, message = "", ""
        decoded = _decode(data)
        if isinstance(decoded, dict):
            reason = str(decoded.get("reason") or "")
            message = str(decoded.get("message") or "")
        elif isinstance(decoded, str):
            message = decoded.strip()
        reason = reason or _HTTP_REASONS.get(status, "Error")
        message = self._redact(message)
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[:MAX_MESSAGE_LENGTH] + "..."
        return KubeError(self._redact(action), status, reason, message)


class _Timed:
    """The ApiClient as DynamicClient calls it, with a timeout on every request that sets none."""

    def __init__(self, client: Any, timeout: float):
        self._client = client
        self._timeout = timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def call_api(self, *args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        return self._client.call_api(*args, _request_timeout=_request_timeout or self._timeout, **kwargs)


def _in_memory_discoverer() -> Any:
    from kubernetes.dynamic.discovery import LazyDiscoverer

    class InMemoryDiscoverer(LazyDiscoverer):
        """Discovery that never writes its cache file (given a path that does not exist, it never
        reads one either)."""

        def _write_cache(self) -> None:
            return None

    return InMemoryDiscoverer


_HTTP_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 405: "MethodNotAllowed", 409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType",
                 422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                 504: "Timeout"}


def _query_text(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read(response: Any) -> tuple[int, Any]:
    """Status and body of a REST response, for both the newer lazily-read responses and the older
    preloaded ones; the connection goes back to the pool afterwards."""
    if getattr(response, "data", None) is None and hasattr(response, "read"):
        response.read()
    raw = getattr(response, "response", None) or getattr(response, "urllib3_response", None)
    if raw is not None and hasattr(raw, "release_conn"):
        raw.release_conn()
    return response.status, response.data


def _decode(data: Any) -> Any:
    if data is None:
        return None
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    if isinstance(data, str):
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def describe_transport_error(error: Exception, timeout: float) -> str:
    """A short reason for a failed connection, without urllib3's object reprs."""
    import http.client

    import urllib3.exceptions as u3

    cause: Exception = error
    while isinstance(cause, u3.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    if isinstance(cause, u3.ProtocolError) and cause.args and isinstance(cause.args[-1], Exception):
        inner = cause.args[-1]
        if isinstance(inner, (ConnectionResetError, BrokenPipeError)) and not isinstance(
                inner, http.client.RemoteDisconnected):
            return "the connection was reset by the server"
        return "the server closed the connection without answering"
    # NewConnectionError derives from ConnectTimeoutError (and NameResolutionError from it), so the
    # specific classes go first.
    if isinstance(cause, u3.NameResolutionError):
        return f"cannot resolve the host name ({_errno_text(str(cause)) or 'unknown host'})"
    if isinstance(cause, u3.NewConnectionError):
        return _errno_text(str(cause)).lower() or "cannot connect"
    if isinstance(cause, u3.ConnectTimeoutError):
        return f"no connection within {timeout:g}s"
    if isinstance(cause, u3.ReadTimeoutError):
        return f"no answer within {timeout:g}s"
    if isinstance(cause, u3.SSLError):
        return f"TLS error: {_ssl_text(str(cause)) or str(cause)}"
    return _errno_text(str(cause)) or str(cause) or type(cause).__name__


def _errno_text(text: str) -> str:
    """'... [Errno 111] Connection refused' -> 'Connection refused'."""
    match = re.search(r"\[Errno -?\d+\] ([^)'\"]+)", text)
    return match.group(1).strip() if match else ""


def _ssl_text(text: str) -> str:
    """'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)'
    -> 'certificate verify failed: self-signed certificate'."""
    match = re.search(r"\[SSL(?:: [A-Z0-9_]+)?\] ([^(\n]+)", text)
    return match.group(1).strip() if match else ""


def _describe_api_exception(error: Exception) -> str:
    """The REST layer reports TLS failures as ApiException(status=0, reason="SSLError\n...")."""
    reason = str(getattr(error, "reason", "") or "").strip()
    ssl_reason = _ssl_text(reason)
    if ssl_reason:
        return f"TLS error: {ssl_reason}"
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    if lines and "SSL" in lines[0]:
        return f"TLS error: {lines[-1]}"
    return lines[-1] if lines else "the request could not be sent"
