# make demo  — a served instance with demo data on http://127.0.0.1:8000 (embedded store)
# make test  — ClickHouse server, a two-shard cluster, Redis + Chromium installed and started if
#              needed, then every test (a replicated cluster with ZooKeeper for the failure tests)
# make bench — the benchmarks, printing their figures
# make update-data — refresh the vendored referrer lists from DATA_SOURCE (a local copy)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= ./data/demo
DATA_SOURCE ?= /work/shared/data
# The IP-to-country database and the country table: pinned npm packages, read at run time.
GEOIP  := geoip/node_modules/.package-lock.json

.PHONY: install demo test bench clickhouse redis system js check-js clean update-data

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

$(GEOIP): geoip/package.json geoip/package-lock.json
	cd geoip && npm ci --no-audit --no-fund --ignore-scripts
	touch $(GEOIP)

install: $(STAMP) $(GEOIP)

system:
	scripts/system-packages.sh clickhouse chromium redis zookeeper nginx

clickhouse: system
	scripts/clickhouse-server.sh start
	scripts/clickhouse-cluster.sh start

# The rate limits' counters, shared by every gunicorn worker (tests and benchmarks).
redis: system
	scripts/redis-server.sh start

# The demo's webhook receiver runs beside the server (loopback only, so the server may post to a
# private address for it: TRACKER_WEBHOOK_ALLOW_PRIVATE=1) and stops with it.
demo: install
	TRACKER_DATA_DIR=$(DEMO_DIR) $(VENV)/bin/tracker demo
	$(PY) -m tracker.demo.receiver --dir $(DEMO_DIR) & receiver=$$!; trap "kill $$receiver" EXIT INT TERM; \
	TRACKER_DATA_DIR=$(DEMO_DIR) TRACKER_WEBHOOK_ALLOW_PRIVATE=1 TRACKER_PUBLIC_URL=http://127.0.0.1:8000 \
	$(VENV)/bin/tracker serve --bind 127.0.0.1:8000 --workers 1

test: install clickhouse redis
	js/check_built.sh
	$(PY) -m pytest -q

bench: install clickhouse redis
	scripts/system-packages.sh wrk
	$(PY) bench/run.py

update-data: install
	$(PY) scripts/update_data.py $(DATA_SOURCE)

js:
	cd js && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) data test-output geoip/node_modules
