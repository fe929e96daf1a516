"""A burst of promotions for the durability test: prints ``ACK <attempt id>`` after each commit, forever."""

from __future__ import annotations

import sys

from analyzer.promotion.stages import DEFAULT
from analyzer.service import promotion as flow
from analyzer.store import Database


def main(url: str) -> None:
    p = flow.Promotions(Database(url), DEFAULT)
    n = 0
    while True:
        n += 1
        candidate = flow.register(p, [{"name": "app", "image": f"r.example.com/app@sha256:{n:064x}"}], "burst")
        attempt = flow.promote(p, candidate.id, "V1", "burst")
        print(f"ACK {attempt.id}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
