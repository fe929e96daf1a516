"""Answers about secrets kept for a while: bounded, each for its own time, keyed by the secret's SHA-256.

What checks a bearer token (the ledger, a Kubernetes TokenReview) is asked once per token per
while instead of at every request; the secret itself is never kept, only its digest. Thread-safe: the
event loop reads, worker threads write.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


def digest(secret: str) -> bytes:
    """The key a secret is kept under."""
    return hashlib.sha256(secret.encode()).digest()


class Expiring(Generic[V]):
    """At most ``most`` answers (the least recently kept go first), each until its own expiry."""

    def __init__(self, most: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.most = most
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: OrderedDict[bytes, tuple[float, V]] = OrderedDict()

    def get(self, key: bytes) -> tuple[V] | None:
        """``(answer,)`` while it is kept (the answer may itself be None), else None."""
        with self._lock:
            kept = self._kept.get(key)
        if kept is None or kept[0] <= self._clock():
            return None
        return (kept[1],)

    def keep(self, key: bytes, answer: V, seconds: float) -> None:
        """Keep ``answer`` for ``seconds`` (0: not at all)."""
        if seconds <= 0:
            return
        with self._lock:
            self._kept[key] = (self._clock() + seconds, answer)
            self._kept.move_to_end(key)
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)
