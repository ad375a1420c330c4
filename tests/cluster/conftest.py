"""Fixtures of the Kubernetes access tests: the fake CLIs and the fake Kubernetes API server."""

from tests.fakes.fixtures import fake_kube, fake_tools_factory  # noqa: F401  (registers the fixtures)
