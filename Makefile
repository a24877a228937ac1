# Two doors for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

STUB   := werk/connect/sparkplug_b_pb2.pyi

.PHONY: demo test lint docs bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)
	$(BIN)/python scripts/sparkplug-stub

# the type stub of the generated Sparkplug B bindings, for mypy: derived, not committed
$(STUB): werk/connect/sparkplug_b_pb2.py $(STAMP)
	$(BIN)/python scripts/sparkplug-stub

demo: $(STAMP)
	$(BIN)/werk demo

lint: $(STAMP) $(STUB)
	$(BIN)/ruff check werk tests benchmarks
	$(BIN)/ruff format --check werk tests benchmarks
	$(BIN)/mypy

test: $(STAMP) lint
	@scripts/ensure-chromium
	$(BIN)/pytest -q -rs

# the plant-file reference, written from the settings models (a test fails when the committed one differs)
docs: $(STAMP)
	$(BIN)/werk docs plant-file -o docs/plant-file.md

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	@scripts/ensure-wrk
	$(BIN)/python benchmarks/aas_api.py --quick

clean:
	rm -rf $(VENV) werk-data .pytest_cache .mypy_cache .ruff_cache
