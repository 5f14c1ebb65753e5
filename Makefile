# Bespin: `make dev` to run it, `make test` to test it. `make` alone lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# Tests flush their Redis database: keep it apart from the one `make dev` uses (0). They
# load the example app of your own tasks (examples/reports), as `make dev` does.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9
# They never read .env.dev, the development settings `make dev` writes (`make build`'s
# deployment checks refuse settings that came from it).
TEST_ENV := BESPIN_ENV_FILE= SECRET_KEY=$${SECRET_KEY:-bespin-tests-only} REDIS_URL=$(TEST_REDIS_URL) BESPIN_THROTTLE_ANON= BESPIN_APPS=examples.reports

.DEFAULT_GOAL := help
.PHONY: help install install-dev lock dev test lint build bench soak clean docker docker-clean browser compose ha

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# Two sets, each installed from its lock (every package pinned, with hashes; `make lock`
# compiles them): the runtime set for `make dev`, the runtime and dev sets for the rest.
$(VENV)/.runtime: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	@touch $@

$(VENV)/.dev: requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	@touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime ## Create .venv and install what runs Bespin (requirements.lock)

install-dev: $(VENV)/.dev ## Install what tests, lints and benchmarks it too (requirements-dev.lock)

LOCK := $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes
lock: install-dev ## Compile requirements.lock and requirements-dev.lock from requirements*.txt
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

dev: install ## Write .env.dev once, create the database if missing, migrate, run Daphne and a worker on PORT (8000), reloading on code changes
	@./run.sh dev

browser: ## Install Debian's Chromium for the browser tests (once)
	@command -v chromium >/dev/null || { echo "installing chromium (browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

compose: ## Install Debian's docker-compose, which checks docker-compose.yml in the tests (once; no Docker needed)
	@command -v docker-compose >/dev/null || { echo "installing docker-compose (checks the compose file)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

ha: ## Install Debian's redis-sentinel and pgbouncer, which the failover and pooler tests start (once)
	@{ command -v redis-sentinel && test -x /usr/sbin/pgbouncer; } >/dev/null || { echo "installing redis-sentinel and pgbouncer (failover and pooler tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-sentinel pgbouncer >/dev/null; }

test: install-dev browser compose ha ## Run the whole test suite against the local PostgreSQL and Redis
	$(TEST_ENV) $(PY) -m pytest $(ARGS)

lint: install-dev ## Check formatting and lint with ruff
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

# collectstatic first: the deployment checks then judge the files the server will serve
# (bespin.W001/W002). Without a SECRET_KEY, a random one as long as production's should be.
build: install ## collectstatic, then Django's checks with the deployment ones (run with production's settings)
	SECRET_KEY=$${SECRET_KEY:-collectstatic-only} $(PY) manage.py collectstatic --noinput -v0
	SECRET_KEY=$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')} $(PY) manage.py check --deploy

bench: install-dev ## Benchmarks beside raw RQ; writes docs/BENCHMARKS.md (QUICK=1 for a short run)
	$(PY) bench/run.py $(if $(QUICK),--quick)

soak: install-dev ha ## Three servers, four workers, Sentinel and a private PostgreSQL under a fault schedule for MINUTES (4); writes docs/BENCHMARKS.md
	$(PY) bench/soak.py $(if $(MINUTES),--minutes $(MINUTES))

clean: ## Remove the virtualenv, caches and collected static files
	@./run.sh clean

docker: ## Run everything with Docker Compose
	@./run.sh docker

docker-clean: ## Stop and remove the Compose containers and volumes
	@./run.sh docker-clean
