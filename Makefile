# make demo  — a served instance with demo data on http://127.0.0.1:8000 (embedded store)
# make test  — ClickHouse server, a two-shard cluster + Chromium installed and started if needed,
#              then every test (a replicated cluster with ZooKeeper for the failure tests)
# make bench — the benchmarks, printing their figures
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= ./data/demo

.PHONY: install demo test bench clickhouse system js check-js clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system:
	scripts/system-packages.sh clickhouse chromium zookeeper nginx

clickhouse: system
	scripts/clickhouse-server.sh start
	scripts/clickhouse-cluster.sh start

demo: install
	TRACKER_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/tracker demo
	TRACKER_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/tracker serve --bind 127.0.0.1:8000 --workers 1

test: install clickhouse
	js/check_built.sh
	$(PY) -m pytest -q

bench: install clickhouse
	scripts/system-packages.sh wrk
	$(PY) bench/run.py

js:
	cd js && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) data test-output
