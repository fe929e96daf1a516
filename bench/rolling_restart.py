"""A rolling restart of two replicas on one PostgreSQL while looks go on: how many looks fail, and how
long the longest run of looks that are not judgments lasts, against the shipped templates' limit.

    python bench/rolling_restart.py [--rounds 2] [--interval 0.2] [--endpoint-lag 1.0] [--pre-stop 0 5]

A real Prometheus (promtool-backfilled: a canary 60 one-minute steps old that serves on for 30 more), a
real PostgreSQL, and two ``canary-analyzer serve`` processes on it. Looks go every ``--interval``
seconds, each on its own thread, round-robin over the replicas a Service would route to. Each replica
is restarted as the chart's ``RollingUpdate`` (``maxSurge: 1, maxUnavailable: 0``) does it: a new
process starts and joins the endpoints once ``/readyz`` answers; then the old one is terminated as the
kubelet does — its endpoint leaves the Service ``--endpoint-lag`` seconds later (kube-proxy and the
endpoint controller are not instant), and it gets SIGTERM after its preStop hook's sleep
(``--pre-stop``; 0: none) — and uvicorn drains what it has in flight. Each ``--pre-stop`` value is
a run of its own (``--rounds`` restarts of both replicas).

Per run it prints the looks by answer, the failed looks (neither 200 nor 503, or slower than Argo's
10 s timeout), the longest run of looks that were not 200 and how long it lasted, and what Argo makes
of such a run: an Error measurement is retried 10 s later, so a run of D seconds is at most
floor(D / 10) + 1 errors in a row, against ``consecutiveErrorLimit`` (12 in the shipped templates).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.sources.prometheus import align_down  # noqa: E402
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate  # noqa: E402
from tests.support.openmetrics import Deployment, write_openmetrics  # noqa: E402
from tests.support.postgres import postgres  # noqa: E402
from tests.support.prometheus import backfill, free_port, prometheus  # noqa: E402

STEP = 60
ARGO_TIMEOUT = 10.0
ARGO_ERROR_RETRY = 10.0  # Argo asks again this long after an Error measurement
ERROR_LIMIT = 12  # consecutiveErrorLimit of analysis-templates/*.yaml
ARGS = {"profile": "http", "namespace": "shop", "rollout": "checkout", "canary": "c0ffee1", "stable": "5ab1e22"}


@dataclass(frozen=True)
class Look:
    sent: float  # monotonic
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    seconds: float
    why: str  # a problem's detail, or the client's error

    @property
    def failed(self) -> bool:
        """What Argo would count against the service: no answer, an error other than 503, or too late."""
        return self.status not in (200, 503) or self.seconds >= ARGO_TIMEOUT


class Replica:
    """One ``serve`` process on its own port."""

    def __init__(self, prometheus_url: str, database_url: str) -> None:
        self.port = free_port()
        env = {**os.environ, "CANARY_ANALYZER_PROMETHEUS_URL": prometheus_url,
               "CANARY_ANALYZER_DATABASE_URL": database_url, "CANARY_ANALYZER_INSECURE_NO_AUTH": "true",
               "CANARY_ANALYZER_HOST": "127.0.0.1", "CANARY_ANALYZER_PORT": str(self.port)}
        self.process = subprocess.Popen([sys.executable, "-m", "analyzer.cli", "serve"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, seconds: float = 60) -> float:
        """Seconds until ``/readyz`` answered 200 (the readiness probe that adds it to the endpoints)."""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            if self.process.poll() is not None:
                raise SystemExit(f"serve exited with {self.process.returncode}")
            time.sleep(0.05)
        raise SystemExit("serve did not become ready")

    def terminate(self) -> None:
        """SIGTERM, as the kubelet sends it: uvicorn stops accepting and drains its looks in flight."""
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        self.process.wait(timeout=40)


class Service:
    """The endpoints a Kubernetes Service routes to, round-robin."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bases: list[str] = []
        self._turn = itertools.count()

    def add(self, base: str) -> None:
        with self._lock:
            self._bases.append(base)

    def remove(self, base: str) -> None:
        with self._lock:
            self._bases.remove(base)

    def pick(self) -> str | None:
        with self._lock:
            return self._bases[next(self._turn) % len(self._bases)] if self._bases else None


def _look(client: httpx.Client, service: Service) -> Look:
    sent = time.monotonic()
    base = service.pick()
    status: int | None = None
    why = "no endpoint"
    if base is not None:
        try:
            response = client.get(f"{base}/api/v1/analysis", params=ARGS, timeout=ARGO_TIMEOUT + 2)
            status, why = response.status_code, "" if response.status_code == 200 else response.json()["detail"]
        except httpx.HTTPError as error:
            why = type(error).__name__
    return Look(sent, status, time.monotonic() - sent, why)


@contextlib.contextmanager
def looking(service: Service, interval: float) -> Iterator[list[Look]]:
    """Looks every ``interval`` s (each on its own thread) until the block ends; the list fills as they answer."""
    looks: list[Look] = []
    stop = threading.Event()
    client = httpx.Client(limits=httpx.Limits(max_connections=100))

    def run() -> None:
        with ThreadPoolExecutor(64) as pool:
            while not stop.wait(interval):
                pool.submit(lambda: looks.append(_look(client, service)))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield looks
    finally:
        stop.set()
        thread.join()
        client.close()


def roll(service: Service, replicas: list[Replica], prometheus_url: str, database_url: str,
         endpoint_lag: float, pre_stop: float) -> list[float]:
    """Replace each replica in turn (surge one, then terminate the old); the new ones' start-up seconds."""
    started: list[float] = []
    for i, old in enumerate(list(replicas)):
        new = Replica(prometheus_url, database_url)
        started.append(new.wait_ready())
        service.add(new.base)
        replicas[i] = new
        # Termination: the endpoint goes after the lag, SIGTERM after the preStop sleep, whichever first.
        began = time.monotonic()
        leave = functools.partial(service.remove, old.base)
        for delay, action in sorted([(endpoint_lag, leave), (pre_stop, old.terminate)], key=lambda pair: pair[0]):
            time.sleep(max(0.0, began + delay - time.monotonic()))
            action()
        old.process.wait(timeout=40)
        time.sleep(2.0)
    return started


def longest_run(looks: list[Look]) -> tuple[int, float]:
    """The longest run of looks, in the order sent, that were not 200: (looks, seconds from first to last sent)."""
    best, best_span, run_start, n = 0, 0.0, 0.0, 0
    for look in sorted(looks, key=lambda lk: lk.sent):
        if look.status == 200:
            n = 0
            continue
        run_start = look.sent if n == 0 else run_start
        n += 1
        if n > best:
            best, best_span = n, look.sent - run_start
    return best, best_span


def argo_errors_in_a_row(span: float, looks_in_run: int) -> int:
    """Argo's errors in a row for a run of non-200 looks ``span`` seconds long (0 when there was none)."""
    return 0 if looks_in_run == 0 else math.floor(span / ARGO_ERROR_RETRY) + 1


def canary(work: Path) -> None:
    end = align_down(time.time(), STEP)
    scenario = Scenario(steps=90, rps=200.0, canary_share=0.2, latency=Latency(0.08, 0.5), buckets=FINE_BUCKETS)
    deployment = Deployment(ARGS["namespace"], ARGS["canary"], ARGS["stable"], simulate(scenario, seed=5),
                            end - 60 * STEP, idle=None)
    backfill(write_openmetrics([deployment]), work / "data")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="restarts of both replicas per run")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between looks")
    parser.add_argument("--endpoint-lag", type=float, default=1.0,
                        help="seconds until a stopping pod leaves the Service")
    parser.add_argument("--pre-stop", type=float, nargs="+", default=[0.0, 5.0], help="preStop sleep(s), a run each")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rolling-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        canary(work)
        prometheus_url = stack.enter_context(prometheus(work))
        database_url = stack.enter_context(postgres())
        print(f"looks every {args.interval:g} s; endpoint lag {args.endpoint_lag:g} s; {args.rounds} rounds per run")
        print("pre-stop  looks  200  503  failed  longest-non-200 (looks, s)  Argo errors in a row / limit  start-up s")
        for pre_stop in args.pre_stop:
            replicas = [Replica(prometheus_url, database_url) for _ in range(2)]
            service = Service()
            for replica in replicas:
                replica.wait_ready()
                service.add(replica.base)
            startups: list[float] = []
            with looking(service, args.interval) as looks:
                time.sleep(3.0)
                for _ in range(args.rounds):
                    startups += roll(service, replicas, prometheus_url, database_url, args.endpoint_lag, pre_stop)
                time.sleep(3.0)
            time.sleep(ARGO_TIMEOUT + 2)  # the last looks answer
            for replica in replicas:
                replica.stop()
            ok = sum(lk.status == 200 for lk in looks)
            busy = sum(lk.status == 503 for lk in looks)
            failed = sum(lk.failed for lk in looks)
            n, span = longest_run(looks)
            print(f"{pre_stop:7g}s {len(looks):6d} {ok:4d} {busy:4d} {failed:7d}  {n:10d} ({span:5.1f} s)"
                  f"             {argo_errors_in_a_row(span, n):3d} / {ERROR_LIMIT}"
                  f"                 {min(startups):.1f}-{max(startups):.1f}")
            for why, count in Counter(lk.why[:100] for lk in looks if lk.status != 200).most_common():
                print(f"          {count:4d} × {why}")


if __name__ == "__main__":
    main()
