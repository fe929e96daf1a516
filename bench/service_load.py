"""Load on the analysis endpoint: 50 concurrent callers, real Prometheus, against the bare PromQL cost.

    python bench/service_load.py [--callers 50] [--seconds 15] [--workers 2]

Starts a real Prometheus backfilled (promtool) with a 30-minute canary that ends now (fine buckets:
35 latency series per arm) and `canary-analyzer serve` on SQLite, then drives both with wrk
(Debian package `wrk`), side by side in one run, at the same concurrency:
  * bare:    the six range queries of one look, sent straight to Prometheus in rotation;
  * service: GET /api/v1/analysis (window lookup, the six queries, judge, record, answer).
Prints throughput and p50/p99 of both. The ratio is the cost of one look through the service over
the cost of its six queries sent bare, both at saturation: bare looks/s (queries/s / 6) over
service looks/s. At saturation a caller's latency is concurrency / throughput, so this is also the
ratio of end-to-end latencies. Targets (issue 3): ratio <= 1.5; service p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.config import load_query_profile  # noqa: E402
from analyzer.sources.prometheus import align_down  # noqa: E402
from analyzer.sources.queries import ARMS, Target, queries_of  # noqa: E402
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate  # noqa: E402
from tests.support.openmetrics import Deployment, write_openmetrics  # noqa: E402
from tests.support.prometheus import backfill, free_port, prometheus  # noqa: E402

STEP = 60
STEPS = 30
TARGET = Target(namespace="shop", rollout="checkout", canary="c0ffee1", stable="5ab1e22")


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk(url: str, paths: list[str], connections: int, seconds: float, work: Path) -> tuple[float, float, float]:
    """(requests/s, p50 s, p99 s) of wrk rotating over ``paths`` on ``url``."""
    script = work / "rotate.lua"
    quoted = ", ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    script.write_text(
        f"paths = {{{quoted}}}\ni = 0\nrequest = function()\n  i = i % #paths + 1\n"
        "  return wrk.format(\"GET\", paths[i])\nend\n"
    )
    run = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "--latency", "-s", str(script), url],
        capture_output=True, text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    out = run.stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw error answers:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    return rate, percentile("50"), percentile("99")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    end = align_down(time.time(), STEP)
    start = end - STEPS * STEP
    scenario = Scenario(steps=STEPS, rps=200, canary_share=0.2, latency=Latency(0.08, 0.5), buckets=FINE_BUCKETS)
    deployment = Deployment(TARGET.namespace, TARGET.canary, TARGET.stable, simulate(scenario, seed=3), start)
    work = Path(tempfile.mkdtemp(prefix="canary-analyzer-bench-"))
    backfill(write_openmetrics([deployment]), work / "data")
    with prometheus(work) as prom:
        port = free_port()
        env = {
            **os.environ,
            "CANARY_ANALYZER_PROMETHEUS_URL": prom,
            "CANARY_ANALYZER_DATABASE_URL": f"sqlite:///{work / 'ledger.db'}",
            "CANARY_ANALYZER_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "analyzer.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            params = {"profile": "http", **TARGET.model_dump()}
            first = httpx.get(f"{base}/api/v1/analysis", params=params, timeout=10).json()
            print(f"one look: {first['verdict']}, {first['steps']} steps from {first['window']['start']}")

            profile = load_query_profile("http")
            range_args = {"start": start + STEP, "end": align_down(time.time(), STEP), "step": f"{STEP}s"}
            paths = [
                "/api/v1/query_range?" + urlencode({"query": profile.render(name, query, arm, TARGET), **range_args})
                for name, q in profile.metrics.items()
                for query in queries_of(q)
                for arm in ARMS
            ]
            print(f"{args.callers} concurrent callers, {args.seconds:g} s each, {len(paths)} queries per look")
            query_rate, bare_p50, bare_p99 = _wrk(prom, paths, args.callers, args.seconds, work)
            look_rate, ours_p50, ours_p99 = _wrk(
                base, ["/api/v1/analysis?" + urlencode(params)], args.callers, args.seconds, work
            )
            bare_looks = query_rate / len(paths)
            print(f"bare     {query_rate:8.1f} queries/s = {bare_looks:6.1f} looks/s"
                  f"   per query p50 {bare_p50 * 1e3:7.1f} ms  p99 {bare_p99 * 1e3:7.1f} ms")
            print(f"service  {look_rate:8.1f} looks/s                  "
                  f"   per look  p50 {ours_p50 * 1e3:7.1f} ms  p99 {ours_p99 * 1e3:7.1f} ms")
            ratio = bare_looks / look_rate
            verdict = "met" if ratio <= 1.5 else "NOT met"
            print(f"ratio service/bare cost per look: {ratio:.2f} (target <= 1.5 -> {verdict})")
            print(f"service p99 {ours_p99 * 1e3:.0f} ms (target < 250 ms -> {'met' if ours_p99 < 0.25 else 'NOT met'})")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
