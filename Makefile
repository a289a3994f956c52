# Benchmarks (docs/benchmarks.md). Needs Kafka and PostgreSQL: `deploy/local/services.sh start`;
# .local/env.sh, when present, supplies ARGUS_KAFKA_BOOTSTRAP and ARGUS_DATABASE_URL.
PYTHON ?= .venv/bin/python
ENV_FILE := $(wildcard .local/env.sh)
WITH_ENV := $(if $(ENV_FILE),. ./$(ENV_FILE) &&,)
BENCH_OUT ?= .local/bench

.PHONY: bench bench-smoke

## bench: the full run (~5-10 min): baselines, 1k/s, 5k/s, saturation with 100k events, 200k-actor memory check
bench:
	mkdir -p $(BENCH_OUT)
	$(WITH_ENV) $(PYTHON) -m bench.run_all --out $(BENCH_OUT)/full.json

## bench-smoke: a few thousand events per phase (< 1 min); QUICK= to run the full plan instead
QUICK ?= --quick
bench-smoke:
	mkdir -p $(BENCH_OUT)
	$(WITH_ENV) $(PYTHON) -m bench.run_all $(QUICK) --out $(BENCH_OUT)/smoke.json
