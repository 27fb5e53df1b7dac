# Valtuushallinta – the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
CATALOGS := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test test-sqlite test-postgresql lint bench setup clean translations diagrams

run: setup
	$(BIN)/valtuus db upgrade
	$(BIN)/valtuus demo
	VALTUUS_DEMO_SIGN_IN=1 $(BIN)/valtuus run

test: setup
	$(BIN)/ruff check engine web tests bench docs
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgresql

test-sqlite: setup
	@echo "== tests on SQLite =="
	$(BIN)/pytest -q

test-postgresql: setup
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests on PostgreSQL ($(PG_TEST_URL)) =="; \
		TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not browser"; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is required in CI at $(PG_TEST_URL) but cannot be reached" >&2; exit 1; \
	else \
		echo "== PostgreSQL not reachable at $(PG_TEST_URL): skipped (CI requires it) =="; \
	fi

bench: setup
	$(BIN)/python bench/lifecycle.py

setup: $(VENV)/.installed node_modules/.installed $(CATALOGS)

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

diagrams: setup
	$(BIN)/python docs/process-diagrams/render.py

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F web/babel.cfg -k _l -o web/translations/messages.pot web
	$(BIN)/pybabel update -i web/translations/messages.pot -d web/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) node_modules instance
