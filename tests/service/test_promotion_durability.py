"""SIGKILL in the middle of a burst of promotions: the chain still verifies, no acknowledged write is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import select

from analyzer.promotion.stages import DEFAULT
from analyzer.service import promotion as flow
from analyzer.store import Database
from analyzer.store.tables import AttemptRow


def test_kill_during_a_burst(database_url):
    Database(database_url).migrate()
    burst = subprocess.Popen([sys.executable, "-m", "tests.support.promotion_burst", database_url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged = []
    assert burst.stdout is not None
    for line in burst.stdout:
        acknowledged.append(line.split()[1])
        if len(acknowledged) >= 40:
            break
    os.kill(burst.pid, signal.SIGKILL)  # mid-transaction, most likely
    burst.wait(timeout=10)
    p = flow.Promotions(Database(database_url), DEFAULT)
    result = flow.verify_audit(p)
    assert result.ok, result.detail
    with p.database.session() as s:
        stored = set(s.scalars(select(AttemptRow.id)))
    assert set(acknowledged) <= stored
    assert result.events >= 2 * len(acknowledged)  # registered + requested (+ started) per acknowledged attempt
