# One command to try the product, one to test it.  See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

# The test suite runs on real PostgreSQL and Redis; override these to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gym
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15

.PHONY: demo test lint typecheck pytest install install-dev services-check messages run-prod clean

$(VENV)/.runtime: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

## demo: install, migrate a SQLite database, seed demo data and serve http://127.0.0.1:8000
demo: install
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py migrate --no-input -v 0
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py seed_demo --json demo-manifest.json
	@echo ""
	@echo "Front desk: http://127.0.0.1:8000/admin/   API docs: http://127.0.0.1:8000/api/docs/"
	@echo "Logins are listed above and in demo-manifest.json."
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py runserver 127.0.0.1:8000

## test: install what is missing, check the services, then lint, type-check and run the suite
test: install-dev services-check lint typecheck pytest

services-check: install-dev
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		$(PY) scripts/check_services.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy .

pytest: install-dev
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		$(BIN)/pytest $(PYTEST_ARGS)

## messages: rebuild the Thai translations after changing strings
messages: install-dev
	for app in config members billing access_control classes dunning pos; do (cd $$app && ../$(PY) ../manage.py makemessages -l th --no-obsolete); done
	$(PY) manage.py compilemessages -l th --ignore=.venv

## run-prod: web (gunicorn), a Celery worker and Celery beat together (Procfile)
run-prod: install
	$(BIN)/honcho start

clean:
	rm -rf $(VENV) demo.sqlite3 demo-manifest.json staticfiles .pytest_cache .mypy_cache .ruff_cache
