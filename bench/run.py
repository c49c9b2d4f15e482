"""`make bench`: every benchmark, each printing its figures as ratios to a baseline of the same run.

    python bench/run.py [--quick]

--quick uses a smaller data set (1 million touchpoints) and shorter load runs.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(title, args, env=None):
    print(f"\n== {title}", flush=True)
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=dict(os.environ, **(env or {})))
    if result.returncode:
        print(f"   ({title} failed with exit code {result.returncode})", flush=True)
    return result.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    rows = "1000000" if quick else "10000000"
    failures = [
        run("snippet size", ["js/check_size.py", "js/dist/t.js"]),
        run("channels and bots on held-out data", ["bench/accuracy.py"]),
        run("ingest", ["bench/ingest.py", "--rounds", "1" if quick else "3"]),
    ]
    if (ROOT / "bench" / "journeys.py").exists():
        failures.append(run("journeys", ["bench/journeys.py", "--rows", rows]))
        if not quick:  # journey state at scale: generated once (minutes), rebuilt in parts, then read
            failures.append(run("journeys at 100M touchpoints", ["bench/journeys.py", "--rows", "100000000",
                                                                  "--backend", "server", "--scale", "--runs", "3"]))
    failures.append(run("automations", ["bench/automations.py", "--rows", rows]
                        + (["--deliveries", "1000", "--seconds", "5"] if quick else [])))
    failures.append(run("cluster against one node", ["bench/cluster.py", "--rows", "200000" if quick else "1000000"]))
    failures.append(run("dashboard pages", ["bench/pages.py", "--url",
                                             "clickhouse://default@127.0.0.1:9000/bench_pages",
                                             "--generate", rows]))
    # The long soak: minutes of traffic with a ClickHouse outage and killed workers (make test
    # runs a short one); it prints its figures (-n 0: in this process, where -s shows them).
    failures.append(run("soak", ["-m", "pytest", "-q", "-s", "-n", "0", "-p", "no:cacheprovider", "tests/test_soak.py"],
                        env={"TRACKER_SOAK_SECONDS": "90" if quick else "240"}))
    sys.exit(1 if any(failures) else 0)


if __name__ == "__main__":
    main()
