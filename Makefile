# One way to run things. Every target installs what it needs first.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum requirements/dev.txt | cut -c1-12)

export DJANGO_SETTINGS_MODULE ?= config.settings

.PHONY: run test bench lint lock venv clean

venv: $(STAMP)

$(STAMP): requirements/dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Nestlab needs Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(PY) -m config.run

test: venv
	@exports="$$($(PY) -m config.testenv)" || exit 1; eval "$$exports"; $(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	@exports="$$($(PY) -m config.testenv)" || exit 1; eval "$$exports"; \
	for b in quota hvsim driver provision api; do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done

# Needs no database server and ignores the caller's environment: the migrations check reads only the
# models and the migration files, so it runs with the test settings on an in-memory SQLite database.
LINT_ENV := env -i PATH="$$PATH" HOME="$$HOME" DJANGO_SETTINGS_MODULE="$$DJANGO_SETTINGS_MODULE" \
	DATABASE_URL=sqlite://:memory: CELERY_BROKER_URL=filesystem://

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(LINT_ENV) sh -c 'eval "$$($(PY) -m config.testenv)" && $(PY) manage.py makemigrations --check --dry-run'

# Regenerate the hash-pinned lock files from requirements/*.in.
lock: venv
	$(PY) -m pip install --quiet pip-tools
	cd requirements && ../$(VENV)/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o base.txt base.in
	cd requirements && ../$(VENV)/bin/pip-compile -q --generate-hashes --strip-extras --allow-unsafe -o dev.txt dev.in

clean:
	rm -rf $(VENV) var/
