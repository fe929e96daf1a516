"""Load on the analysis endpoint beside the bare PromQL it needs: CPU per look of every process, side by side.

    python bench/service_load.py [--quick] [--callers 50] [--seconds 10] [--windows 30 360 1440]
                                 [--workers 1 2] [--databases sqlite postgresql] [--compression] [--profile]

One run starts a real Prometheus, backfilled by promtool with three canaries whose windows are 30, 360
and 1,440 one-minute steps long when the run starts and who serve on for 30 more minutes (fine buckets:
35 latency series per arm, 2 canary and 3 stable pods, a sample every 15 s), a real PostgreSQL, and
``canary-analyzer serve`` for each database and worker count; wrk (Debian ``wrk``) drives each side in
turn, the same way: ``--long-looks`` requests one by one at every window (CPU per request, compared
across windows and sides), and ``--callers`` (50) at once for ``--seconds`` at the shortest window
(throughput and latency under load, which the targets name):

* **bare**: the one combined range query a look needs for its whole window, straight to Prometheus;
* **service**: ``GET /api/v1/analysis`` with a bearer token (window start, the query — incremental
  after the first look —, judge, record, answer).

Both sides ask for the same encoding: none (``Accept-Encoding: identity``, the service's default), or
gzip with ``--compression`` (the service then runs with ``prometheus_compression``). For every side the
CPU time per request of each process (utime + stime of it and its reaped children, from
/proc/<pid>/stat; the service's workers and PostgreSQL's backends summed) is printed next to the
throughput and wall-clock p50/p99: on a shared 2-core machine, CPU time is the figure to compare.

Fixed ports, so that runs are comparable and a firewall rule can name them: the service on 19080,
Prometheus on 19090, PostgreSQL on 19095 (``--port-base`` moves the three together; ``--free-ports``
takes any, for the test suite's smoke run). ``--profile`` also profiles looks in process (cProfile on
CPU time) and prints the judge's share per window length. ``--quick``: 3 s under load instead of 10, and
4 requests one by one instead of 12.

Targets (issue 15): service + Prometheus CPU per look <= 1.5x the bare query's; a 360-step look
<= 1.5x a 30-step look, 1,440 steps <= 2x; 2 workers on PostgreSQL at 50 callers >= 200 looks/s with
p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.config import load_query_profile  # noqa: E402
from analyzer.sources.prometheus import align_down, combine  # noqa: E402
from analyzer.sources.queries import ARMS, Target, queries_of  # noqa: E402
from analyzer.sources.simulate import FINE_BUCKETS, Latency, Scenario, simulate  # noqa: E402
from tests.support.openmetrics import Deployment, write_openmetrics  # noqa: E402
from tests.support.postgres import postgres  # noqa: E402
from tests.support.prometheus import backfill, free_port, prometheus  # noqa: E402

STEP = 60
AHEAD_STEPS = 30  # the canaries serve on this long after the run starts
PORT_BASE = 19080
TOKEN = "bench-token"
CANARY, STABLE = "c0ffee1", "5ab1e22"
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_TICK = os.sysconf("SC_CLK_TCK")


def target(window: int) -> Target:
    return Target(namespace=f"w{window}", rollout="checkout", canary=CANARY, stable=STABLE)


# --- processes: CPU and memory from /proc ----------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(root: int) -> float:
    """utime + stime of ``root``'s tree, reaped children included (cutime + cstime)."""
    total = 0.0
    for pid in tree(root):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / _TICK
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postmaster(port: int) -> int:
    """The PostgreSQL server listening on ``port`` (its backends are its children)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                listens = b"-p" in argv and argv[argv.index(b"-p") + 1] == str(port).encode()
                if argv[0].endswith(b"postgres") and listens:
                    return int(entry.name)
    raise SystemExit(f"no PostgreSQL on port {port}")


def prometheus_pid(port: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f"--web.listen-address=127.0.0.1:{port}".encode() in (entry / "cmdline").read_bytes():
                    return int(entry.name)
    raise SystemExit(f"no Prometheus on port {port}")


# --- load: wrk, and what each process spent -------------------------------------------------------------


@dataclass
class Load:
    rate: float  # requests/s
    p50: float
    p99: float
    requests: int
    cpu: dict[str, float]  # process -> CPU seconds per request
    driver: float = 0.0  # the load generator's (wrk's) CPU seconds per request, on the same cores


def _wrk(base: str, path: str, headers: dict[str, str], callers: int, seconds: float, work: Path) -> tuple[
    float, float, float, int, float
]:
    """wrk's rate, p50, p99, answered requests, and its own CPU seconds (a reaped child: ``os.times``)."""
    script = work / "request.lua"
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join([*lines, f'wrk.path = "{path}"', ""]))
    started = os.times()
    run = subprocess.run(
        ["wrk", "-t2", f"-c{callers}", f"-d{seconds:g}s", "--timeout", "30s", "--latency", "-s", str(script), base],
        capture_output=True, text=True,
    )
    ended = os.times()
    driver = ended.children_user + ended.children_system - started.children_user - started.children_system
    out = run.stdout
    if run.returncode != 0 or "Socket errors" in out:
        raise SystemExit(f"wrk failed or saw errors ({run.returncode}):\n{out}{run.stderr}")
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if refused:  # the service sheds looks it cannot start in time (503 + Retry-After): counted, not judged
        print(f"    ({refused.group(1)} answers were not 2xx: left out of the rate and the CPU per request)")
    count, took, unit = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out).groups()  # type: ignore[union-attr]
    requests = int(count) - int(refused.group(1) if refused else 0)
    rate = requests / (float(took) * _UNITS[unit])

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    return rate, percentile("50"), percentile("99"), requests, driver


def load(
    base: str, path: str, headers: dict[str, str], processes: dict[str, int], callers: int, seconds: float, work: Path
) -> Load:
    """wrk on ``base + path``, and each process tree's CPU time per request meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    rate, p50, p99, requests, driver = _wrk(base, path, headers, callers, seconds, work)
    if requests == 0:
        raise SystemExit(f"no request to {base} finished in {seconds:g} s with {callers} callers: give it --seconds")
    spent = {name: (cpu_seconds(pid) - before[name]) / requests for name, pid in processes.items()}
    return Load(rate, p50, p99, requests, spent, driver / requests)


def one_by_one(base: str, path: str, headers: dict[str, str], processes: dict[str, int], requests: int) -> Load:
    """``requests`` requests in a row (one caller), and each process tree's CPU time per request meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    took, refused = [], []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _ in range(requests):
            started = time.perf_counter()
            answer = client.get(path)
            took.append(time.perf_counter() - started)
            if answer.status_code != 200:
                refused.append(f"{answer.status_code} {answer.text[:200]}")
    if refused:
        print(f"    ({len(refused)} of {requests} answers were not 200, e.g. {refused[0]})")
    spent = {name: (cpu_seconds(pid) - before[name]) / requests for name, pid in processes.items()}
    took.sort()
    return Load(requests / sum(took), took[len(took) // 2], took[-1], requests, spent)


# --- the two sides -------------------------------------------------------------------------------------


def bare_path(window: int, start: int) -> str:
    """The combined range query of one look over its whole window, as the service sends it."""
    profile = load_query_profile("http")
    parts = [
        profile.render(name, query, arm, target(window))
        for name, queries in profile.metrics.items() for query in queries_of(queries) for arm in ARMS
    ]
    end = align_down(time.time(), STEP)
    return "/api/v1/query_range?" + urlencode(
        {"query": combine(parts), "start": start + STEP, "end": min(end, start + window * STEP), "step": f"{STEP}s"}
    )


@contextlib.contextmanager
def service(port: int, env: dict[str, str], workers: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                raise SystemExit(f"serve exited with {process.returncode}")
            time.sleep(0.1)
        time.sleep(2 * workers)  # every worker up, not only the first
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def warm(url: str, headers: dict[str, str], attempts: int = 5) -> dict[str, object]:
    """The window's first look (its start found, its whole window fetched), retried as Argo would on a 503."""
    for _ in range(attempts):
        answer = httpx.get(url, headers=headers, timeout=30)
        if answer.status_code == 200:
            body: dict[str, object] = answer.json()
            return body
        print(f"    (first look: {answer.status_code} {answer.text[:200]}; again)")
    raise SystemExit(f"the first look never answered 200: {answer.status_code} {answer.text[:300]}")


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes under ``pid`` (started by multiprocessing's spawn), or ``pid`` itself."""
    spawned = [p for p in tree(pid)[1:] if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return spawned or [pid]


def look_path(window: int) -> str:
    return "/api/v1/analysis?" + urlencode({"profile": "http", **target(window).model_dump()})


# --- the run -------------------------------------------------------------------------------------------


def backfilled(windows: list[int], work: Path, ahead: int = AHEAD_STEPS) -> int:
    """Write the canaries into a TSDB under ``work``, serving on for ``ahead`` steps; the run's first window end."""
    end = align_down(time.time(), STEP)
    scenario = {"rps": 200, "canary_share": 0.2, "latency": Latency(0.08, 0.5), "buckets": FINE_BUCKETS}
    deployments = [
        Deployment(f"w{w}", CANARY, STABLE, simulate(Scenario(steps=w + ahead, **scenario), seed=3),  # type: ignore[arg-type]
                   end - w * STEP, idle=None)
        for w in windows
    ]
    backfill(write_openmetrics(deployments), work / "data")
    return end


def fresh_database(kind: str, server: str | None, n: int, work: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work / f'ledger-{n}.db'}"
    from sqlalchemy import create_engine, text

    assert server is not None
    engine = create_engine(server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE bench_{n}"))
    engine.dispose()
    return server.rsplit("/", 1)[0] + f"/bench_{n}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f}"


def main(argv: list[str] | None = None) -> dict[str, Load]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per side")
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--long-looks", type=int, default=None, help="requests one by one at every window")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--windows", type=int, nargs="+", default=[30, 360, 1440])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--compression", action="store_true", help="gzip on both sides")
    parser.add_argument("--profile", action="store_true", help="also profile looks in process: the judge's share")
    parser.add_argument("--port-base", type=int, default=PORT_BASE)
    parser.add_argument("--free-ports", action="store_true")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.long_looks = args.long_looks or (4 if args.quick else 12)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    ports = [free_port() for _ in range(3)] if args.free_ports else [args.port_base + d for d in (0, 10, 15)]
    service_port, prometheus_port, postgres_port = ports
    encoding = "gzip" if args.compression else "identity"
    results: dict[str, Load] = {}
    work = Path(tempfile.mkdtemp(prefix="canary-analyzer-bench-"))
    started = time.monotonic()
    end = backfilled(args.windows, work)
    starts = {w: end - w * STEP for w in args.windows}
    print(f"backfilled {args.windows} steps in {time.monotonic() - started:.0f} s; {args.callers} callers, "
          f"{args.seconds:g} s per side, Accept-Encoding: {encoding}")
    with contextlib.ExitStack() as stack:
        prom = stack.enter_context(prometheus(work, port=prometheus_port))
        pg = stack.enter_context(postgres(postgres_port)) if "postgresql" in args.databases else None
        processes = {"prometheus": prometheus_pid(prometheus_port)}
        print(f"{'side':<34}{'looks/s':>9}{'p50 ms':>9}{'p99 ms':>9}   CPU ms per request:"
              " service prometheus postgres  total")
        bare_headers = {"Accept-Encoding": encoding}
        shortest = min(args.windows)
        results["bare load"] = load(prom, bare_path(shortest, starts[shortest]), bare_headers, processes,
                                    args.callers, args.seconds, work)
        report(f"bare, {shortest} steps, {args.callers} at once", results["bare load"])
        for w in args.windows:
            results[f"bare {w}"] = one_by_one(prom, bare_path(w, starts[w]), bare_headers, processes, args.long_looks)
            report(f"bare, {w} steps, 1 by 1", results[f"bare {w}"])
        n = 0
        for database in args.databases:
            for workers in args.workers:
                n += 1
                env = {
                    **os.environ, "CANARY_ANALYZER_PROMETHEUS_URL": prom, "CANARY_ANALYZER_LOG_LEVEL": "warning",
                    "CANARY_ANALYZER_DATABASE_URL": fresh_database(database, pg, n, work),
                    "CANARY_ANALYZER_API_TOKENS": f'["{TOKEN}"]', "CANARY_ANALYZER_LOOKBACK_SECONDS": "100000",
                    "CANARY_ANALYZER_PROMETHEUS_COMPRESSION": str(args.compression).lower(),
                }
                with service(service_port, env, workers) as server:
                    base = f"http://127.0.0.1:{service_port}"
                    watched = {"service": server.pid, **processes}
                    if pg is not None and database == "postgresql":
                        watched["postgres"] = postmaster(postgres_port)
                    auth = {"Authorization": f"Bearer {TOKEN}"}
                    for w in args.windows:
                        # Every worker's first look of a window is a full fetch: give each a chance to make it
                        # before the looks measured (the kernel picks which worker accepts a connection).
                        first = warm(base + look_path(w), auth)
                        if workers > 1:  # at once, so that a busy worker leaves the next connection to another
                            with concurrent.futures.ThreadPoolExecutor(4 * workers) as pool:
                                list(pool.map(warm, [base + look_path(w)] * 8 * workers, [auth] * 8 * workers))
                        key = f"service {database} {workers} {w}"
                        results[key] = one_by_one(base, look_path(w), auth, watched, args.long_looks)
                        report(f"{database}, {workers}w, {first['steps']} steps, 1 by 1", results[key])
                    results[f"load {database} {workers}"] = load(base, look_path(shortest), auth, watched, args.callers,
                                                                  args.seconds, work)
                    report(f"{database}, {workers}w, {shortest}, {args.callers} at once",
                           results[f"load {database} {workers}"])
                    rss = [rss_mib(pid) for pid in workers_of(server.pid)]
                    print(f"{'':<34}RSS per worker: {', '.join(f'{r:.0f} MiB' for r in rss)}")
        if args.profile:
            profiled(prom, args.windows, work)
    summary(results, args)
    shutil.rmtree(work, ignore_errors=True)
    return results


def report(label: str, result: Load) -> None:
    cpu = result.cpu
    driver = f"   (wrk {result.driver * 1e3:.2f})" if result.driver else ""
    print(f"{label:<34}{result.rate:9.1f}{ms(result.p50)} {ms(result.p99)}   {ms(cpu.get('service', 0.0))}"
          f"{ms(cpu['prometheus'])}{ms(cpu.get('postgres', 0.0))}{ms(sum(cpu.values()))}{driver}")


def summary(results: dict[str, Load], args: argparse.Namespace) -> None:
    """The issue's acceptance figures from this run's measurements."""
    print("\nacceptance (CPU per look one by one: service + Prometheus; bare: Prometheus per combined query)")
    for key, result in results.items():
        if not key.startswith("service"):
            continue
        _, database, workers, w = key.split()
        ours = result.cpu["service"] + result.cpu["prometheus"]
        bare = results[f"bare {w}"].cpu["prometheus"]
        line = f"  {database}, {workers}w, {w} steps: {ours * 1e3:.2f} ms = {ours / bare:.1f}x bare (target <= 1.5x)"
        base = results.get(f"service {database} {workers} {min(args.windows)}")
        if base is not None and int(w) != min(args.windows):
            shorter = base.cpu["service"] + base.cpu["prometheus"]
            limit = 1.5 if int(w) <= 360 else 2.0
            line += f"; {ours / shorter:.1f}x the {min(args.windows)}-step look (target <= {limit:g}x)"
        print(line)
    key = "load postgresql 2"
    if key in results:
        r = results[key]
        print(f"  2 workers, PostgreSQL, {args.callers} callers: {r.rate:.0f} looks/s (target >= 200),"
              f" p99 {r.p99 * 1e3:.0f} ms (target < 250 ms)")
        machine = sum(r.cpu.values()) + r.driver
        print(f"  a look's CPU on this machine meanwhile: {machine * 1e3:.2f} ms (service, Prometheus, PostgreSQL and"
              f" wrk), so its {os.cpu_count()} cores give at most {os.cpu_count() / machine:.0f} looks/s")


def profiled(prom: str, windows: list[int], work: Path, looks: int = 30) -> None:
    """In process: CPU per look and the share of its parts, at each window length (cProfile, CPU clock)."""
    from analyzer.errors import SourceUnavailableError
    from analyzer.service.analysis import StoreUnavailableError, analyse, connect
    from analyzer.settings import Settings

    settings = Settings(prometheus_url=prom, database_url=f"sqlite:///{work / 'profile.db'}", lookback_seconds=100_000,
                        insecure_no_auth=True)
    analyzer = connect(settings)
    parts = {
        "judge (analyzer.judging)": [("analyzer/judging/ours.py", "judge")],
        "fetch (query + decode)": [("analyzer/sources/prometheus.py", "_range")],
        "assemble (series -> measurement)": [("analyzer/sources/assemble.py", "assemble")],
        "store the window's counts (chunks' JSON, the store's answer, upserts)": [
            ("analyzer/service/look_record.py", "save"),
        ],
    }
    print(f"\nin-process profile, {looks} looks per window (CPU ms per look; the HTTP layer not included;"
          f" a full refresh every {settings.window_cache_refresh_looks} looks)")
    totals: dict[int, tuple[float, float]] = {}  # window -> (a look, its judge)
    for w in windows:
        for _ in range(5):  # the first look fetches the whole window: on a busy machine it may time out (503)
            with contextlib.suppress(SourceUnavailableError, StoreUnavailableError):
                analyse(analyzer, "http", target(w))
                break
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(looks):
            analyse(analyzer, "http", target(w))
        profile.disable()
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        total = sum(tottime for (_, _, tottime, _, _) in stats.values()) / looks
        cums = {
            name: sum(v[3] for (f, _, fn), v in stats.items() if any(f.endswith(p) and fn == n for p, n in functions))
            / looks
            for name, functions in parts.items()
        }
        shares = [f"{name} {cum * 1e3:.2f} ({cum / total:.0%})" for name, cum in cums.items()]
        totals[w] = (total, cums["judge (analyzer.judging)"])
        print(f"  {w:>5} steps: {total * 1e3:.2f} ms; " + "; ".join(shares))
    shortest, (base, base_judge) = min(windows), totals[min(windows)]
    for w, (total, judge) in sorted(totals.items()):
        if w != shortest:
            print(f"  {w} steps against {shortest}: {total / base:.1f}x a look,"
                  f" {(total - judge) / (base - base_judge):.1f}x without the judge")
    cache = analyzer.source.default.cache
    if cache is not None:  # what the windows' kept series and measurements cost, as the cache estimates it
        print(f"  window cache: {len(cache)} windows ({', '.join(map(str, windows))} steps),"
              f" {cache.nbytes / 2**20:.1f} MiB by its estimate")
    analyzer.source.close()
    analyzer.database.dispose()


if __name__ == "__main__":
    main()
