"""The load bench's own machinery, and a tiny end-to-end run of it (real Prometheus, serve, wrk)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import service_load


def test_cpu_seconds_counts_a_process_tree_and_its_reaped_children():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    child = subprocess.Popen([sys.executable, "-c", burn])
    before = service_load.cpu_seconds(os.getpid())
    child.wait()
    after = service_load.cpu_seconds(os.getpid())  # the child is gone: its CPU is in our cutime now
    assert 0.2 <= after - before < 2.0
    assert os.getpid() in service_load.tree(os.getpid())
    assert service_load.rss_mib(os.getpid()) > 10


def test_a_tiny_run_measures_both_sides(capsys):
    started = time.monotonic()
    results = service_load.main(["--windows", "30", "--workers", "1", "--databases", "sqlite", "--seconds", "1",
                                 "--callers", "4", "--free-ports"])
    assert set(results) == {"bare load", "bare 30", "service sqlite 1 30", "load sqlite 1"}
    bare, ours = results["bare 30"], results["service sqlite 1 30"]
    assert bare.requests > 0 and ours.requests > 0
    assert bare.cpu["prometheus"] > 0 and ours.cpu["service"] > 0 and ours.cpu["prometheus"] > 0
    out = capsys.readouterr().out
    assert "bare, 30 steps, 1 by 1" in out and "acceptance" in out and "RSS per worker" in out
    assert time.monotonic() - started < 60
