# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Tests run against real PostgreSQL and Redis (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/helpdesk
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint venv migrate demo clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

# Web server, Celery worker and Celery beat together; Ctrl-C stops all three.
run: demo
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A helpdesk worker --loglevel=INFO --concurrency=2 & \
	$(VENV)/bin/celery -A helpdesk beat --loglevel=INFO & \
	$(PY) manage.py runserver 127.0.0.1:$(PORT) --noreload & \
	wait

test: venv
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# One escalation tick over 1M tickets in its own database (helpdesk_bench, or
# BENCH_DATABASE_URL); writes docs/PERFORMANCE.md. BENCH_ARGS="--reload --runs 3".
.PHONY: bench-escalation
bench-escalation: venv
	$(PY) -m bench.escalation_sweep --tickets 1000000 --open 50000 --due 10000 $(BENCH_ARGS)

# 2,000 json monitors at 60 s polled for 180 s by a real worker and beat, in its own
# database (helpdesk_bench_polling) and Redis db 11; writes docs/PERFORMANCE.md.
.PHONY: bench-polling
bench-polling: venv
	$(PY) -m bench.polling --monitors 2000 --interval 60 --duration 180 $(BENCH_ARGS)

# 1,000 messages in through a real Dovecot and 1,000 out to an SMTP receiver, one real worker,
# in its own database (helpdesk_bench_mail) and Redis db 12; writes docs/PERFORMANCE.md.
.PHONY: bench-mail
bench-mail: venv
	$(PY) -m bench.mail --messages 1000 --outbound 1000 $(BENCH_ARGS)

clean:
	rm -rf var staticfiles

# The production setup (gunicorn, Celery worker, PostgreSQL, Redis) under wrk on loopback at
# 100k tickets: list, detail, dashboard (API and page), create, next; writes docs/PERFORMANCE.md.
.PHONY: bench-web bench
bench-web: venv
	$(PY) -m bench.web --tickets 100000 $(BENCH_ARGS)

# Every benchmark, one after the other (about 20 minutes on 2 cores).
bench: bench-web bench-escalation bench-polling bench-mail
