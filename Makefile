# Every target creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
PEER := .venv-peer
PEER_STAMP := $(PEER)/.installed

.PHONY: demo test lint bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

# the server figures' peer, in an environment of its own (see benchmarks/peer-server.txt)
$(PEER_STAMP): benchmarks/peer-server.txt
	$(PYTHON) -m venv $(PEER)
	$(PEER)/bin/python -m pip install --quiet --upgrade pip
	$(PEER)/bin/python -m pip install --quiet -r benchmarks/peer-server.txt
	touch $@

demo: $(STAMP)
	$(PY) examples/demo.py

# packages pip cannot install (bubblewrap, the tools' sandbox): installed when missing
# and running as root, else named; under CI=true a missing one fails
system-deps:
	bash scripts/system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy

bench: $(BENCH_STAMP) $(PEER_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(PEER) .pytest_cache .mypy_cache .ruff_cache
