# SalesPulse: `make demo` runs the product, `make test` runs the tests. Both set themselves up.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: install demo test test-unit test-integration test-kafka bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@echo "installing SalesPulse and its test tools into $(VENV) ..."
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## demo: embedded broker + SQLite + worker + simulated channels, live progress until Ctrl-C
demo: $(STAMP)
	@$(BIN)/salespulse demo $(DEMO_ARGS)

## test: the whole suite on the embedded Tansu broker and SQLite
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration tests/e2e $(PYTEST_ARGS)

## test-kafka: integration + e2e on Apache Kafka 4.x and PostgreSQL (what .ci/run does second)
test-kafka: $(STAMP)
	bash .ci/run-kafka-tier

bench: $(STAMP)
	$(BIN)/salespulse bench

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
