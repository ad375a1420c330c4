# Two entry points: `make demo` (install, then render the bundled sample configuration) and
# `make test` (install with test extras, then run the test suite). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-test demo test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[bundled-tools]'

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# The sample tunnel credentials are placeholders for this demo only; for a real cluster create them
# with `cloudflared tunnel create --credentials-file cloudflare-tunnel.json kubernetes`.
demo: install
	$(BIN)/inv init
	test -f cloudflare-tunnel.json || cp templates/samples/cloudflare-tunnel.sample.json cloudflare-tunnel.json
	$(BIN)/inv configure --yes

test: install-test
	$(BIN)/python -m pytest
