"""Prometheus' HTTP API, read strictly and on time: one POST under the look's deadline, retried, checked.

Prometheus, Thanos Query, Mimir and VictoriaMetrics all answer ``/api/v1/query_range`` with the same
JSON. Everything that can go wrong with that answer becomes a :class:`PrometheusError`, a
:class:`~analyzer.errors.SourceUnavailableError` (503 for Argo, which retries) whose ``kind`` says
what went wrong — unreachable, timeout, an error status, or a malformed answer — so that the
service counts each kind: a 200 whose body is ``{}``, ``"data": null``, ``"result": {}``, samples of
the wrong shape or non-numeric values is never read as "no data".

A range answer's ``warnings`` are kept, not thrown away: Thanos and Mimir put a *partial response*
there (a store or ingester that did not answer), and the caller must not judge on partial data.
PromQL's informational annotations ("PromQL info: metric might not be a counter …", which Prometheus
2.47-2.49 sent among the warnings, and later in ``infos``) say nothing about missing data and are
left out.

The parameters go in a form body (``application/x-www-form-urlencoded``), which Prometheus, Thanos,
Mimir and VictoriaMetrics accept on their query endpoints as they do a GET's: a look's combined query
is a few kB, and in a URL the client would percent-encode it character by character (~0.25 ms a look).

Deadlines: each call runs on its caller's thread, through :mod:`analyzer.sources.transport`, whose
every wait — for a pooled connection, for connecting, for each read of the answer, headers included —
ends at the look's :class:`Deadline`, so that a server that drips bytes cannot hold a look past it.
Retries (connection errors, timeouts, 502/503/504, with a short exponential backoff) happen only while
the deadline leaves time for them; whatever fails once the deadline has passed is reported as the
deadline's timeout.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import zlib
from dataclasses import dataclass
from itertools import chain
from typing import Generic, Literal, TypeVar

import msgspec
import numpy as np
import urllib3
import urllib3.exceptions

from analyzer.errors import SourceUnavailableError
from analyzer.sources import transport

#: Prometheus' error texts and odd bodies go here (redacted like every log line), not into answers:
#: they may quote label values, queries or a proxy's page.
_log = logging.getLogger("canary_analyzer.prometheus")

#: Statuses a proxy or an overloaded Prometheus answers for a moment: worth another attempt.
RETRY_STATUSES = frozenset({502, 503, 504})
#: The largest answer read (a day of 60 s steps for a few hundred series is a few MB).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: Concurrent requests in flight to one Prometheus (its pooled connections); more wait for one (inside
#: their deadline).
WORKERS = 32

#: How PromQL's informational annotations begin (not a sign of partial data).
PROMQL_INFO = "PromQL info:"

ErrorKind = Literal["unreachable", "timeout", "error", "malformed"]


class PrometheusError(SourceUnavailableError):
    """Prometheus could not give a usable answer in time; ``kind`` says why (a label of the error counter)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


class Deadline:
    """The moment (monotonic clock) by which every Prometheus call of one look must be done."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._end - time.monotonic()


#: How a sample's value is decoded: a float (lax: from the string Prometheus writes), or the string itself.
V = TypeVar("V", float, str)

# The answer's structs hold only lists, tuples, dicts and strings, never a cycle: gc=False keeps them out of the
# garbage collector's count, which a decode's thousands of objects would otherwise drive to a collection a look.


class _Series(msgspec.Struct, Generic[V], gc=False):
    """One series of a range answer as Prometheus writes it (``values`` is absent for native histograms)."""

    metric: dict[str, str] = {}
    values: list[tuple[float, V]] | None = None


class _Data(msgspec.Struct, Generic[V], gc=False):
    resultType: str  # noqa: N815 (Prometheus' name)
    result: list[_Series[V]]


class _Answer(msgspec.Struct, Generic[V], gc=False):
    status: str
    data: _Data[V]
    warnings: list[str] = []


#: A range answer read field by field into typed objects. Lax: each sample's value, a string ("1.25", "NaN",
#: "-Inf"), is read as a float by msgspec's own exact parser, without a Python string per sample.
_DECODER = msgspec.json.Decoder(_Answer[float], strict=False)
#: The same with the values kept as strings, for what msgspec's parser refuses: Prometheus writes +Inf "+Inf".
_TEXT_DECODER = msgspec.json.Decoder(_Answer[str])


@dataclass(frozen=True)
class Matrix:
    """A checked range answer, flat: each series' labels, and every sample of every series in one array each.

    Series ``i``'s samples are ``times[offsets[i]:offsets[i + 1]]`` and the same slice of ``values``."""

    labels: list[dict[str, str]]
    offsets: np.ndarray  # int64, len(labels) + 1
    times: np.ndarray  # float64, finite
    values: np.ndarray  # float64; NaN or ±Inf as Prometheus writes them
    warnings: list[str]

    @property
    def rows(self) -> np.ndarray:
        """Each sample's series index."""
        return np.repeat(np.arange(len(self.labels)), np.diff(self.offsets))


def malformed(url: str, what: str) -> PrometheusError:
    return PrometheusError("malformed", f"Prometheus at {url} sent a malformed answer: {what}")


def _typed(url: str, body: bytes) -> _Answer[float] | _Answer[str]:
    """The answer decoded into typed objects: values as floats, or as strings when one is "+Inf" (or no number)."""
    try:
        return _DECODER.decode(body)
    except msgspec.ValidationError:
        pass
    try:
        return _TEXT_DECODER.decode(body)
    except msgspec.ValidationError as error:
        raise malformed(url, str(error)) from None


def parse_matrix(url: str, body: bytes) -> Matrix:
    """A range answer (JSON text) checked field by field; anything else raises :class:`PrometheusError`.

    ``msgspec.DecodeError`` (a body that is not JSON) is the caller's to report."""
    answer = _typed(url, body)
    if answer.status != "success":
        raise malformed(url, f"status is {answer.status!r}, not 'success'")
    if answer.data.resultType != "matrix":
        raise malformed(url, f"resultType is {answer.data.resultType!r}, not 'matrix'")
    result = answer.data.result
    if any(s.values is None for s in result):
        raise malformed(url, "a series has no list of 'values' (native-histogram samples? the profiles need"
                             " classic buckets)")
    offsets = np.zeros(len(result) + 1, dtype=np.int64)
    np.cumsum([len(s.values or ()) for s in result], out=offsets[1:])
    samples = chain.from_iterable(chain.from_iterable(s.values or () for s in result))
    try:  # strings (the text decoder's values) are read as Python reads them, "+Inf" included
        flat = np.fromiter(samples, np.float64, 2 * int(offsets[-1])).reshape(-1, 2)
    except ValueError:
        raise malformed(url, "a series has a value that is not a number") from None
    times, values = flat[:, 0], flat[:, 1]
    if not np.isfinite(times).all():
        raise malformed(url, "a series has samples whose timestamps are not finite numbers")
    warnings = [w for w in answer.warnings if not w.startswith(PROMQL_INFO)]
    return Matrix([s.metric for s in result], offsets, times, values, warnings)


def _decode(body: bytes, encoding: str) -> bytes:
    """The body without its transfer compression (gzip or deflate, as Prometheus sends when asked)."""
    if encoding in ("gzip", "deflate"):
        return zlib.decompress(body, zlib.MAX_WBITS | 32 if encoding == "gzip" else zlib.MAX_WBITS)
    return body


class PrometheusApi:
    """Requests to one Prometheus, each bounded by a deadline, with retries and checked JSON."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        timeout_seconds: float = 2.0,
        retries: int = 2,
        backoff_seconds: float = 0.1,
        ca_file: str | None = None,
        auth: transport.Authorizer | None = None,
        compress: bool = False,
    ) -> None:
        """``auth`` gives each request's Authorization header (reading a rotated secret, sources.datasources);
        without it, credentials in the URL (``http://user:password@host``) are sent as basic authentication."""
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        self._prefix = parts.path  # a query frontend's, say …/prometheus
        # Only what _decode undoes, and only when asked: on loopback or in-cluster, gzip costs Prometheus
        # ~20 % more CPU per query for nothing.
        encoding = "gzip, deflate" if compress else "identity"
        self._headers = urllib3.HTTPHeaderDict({"Accept-Encoding": encoding, "Content-Type": transport.FORM})
        self._headers.update(headers or {})
        if auth is None and parts.username is not None:
            credentials = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
            self._headers["Authorization"] = transport.basic(*credentials)
        self._auth = auth
        self._pool = transport.pool(self.url, WORKERS, ca_file)
        self._timeout = timeout_seconds
        self._retries = retries
        self._backoff = backoff_seconds

    def close(self) -> None:
        self._pool.close()

    def call(self, path: str, params: dict[str, str], deadline: Deadline) -> tuple[int, bytes]:
        """(status, body) of ``POST path`` with ``params`` as its form, retried on transient failures, all before
        ``deadline``."""
        form = urllib.parse.urlencode(params).encode()
        try:
            with transport.until(deadline):
                return self._attempts(path, form, deadline)
        except PrometheusError:
            if deadline.remaining() <= 0:  # cut by the deadline, whatever the last wait was
                raise self._late(deadline) from None
            raise

    def query_range(self, query: str, start: int, end: int, step: int, deadline: Deadline) -> Matrix:
        """``/api/v1/query_range`` from ``start`` to ``end`` (epoch seconds, both evaluated) every ``step`` s."""
        params = {"query": query, "start": str(start), "end": str(end), "step": f"{step}s"}
        status, body = self.call("/api/v1/query_range", params, deadline)
        try:
            if status == 200:
                return parse_matrix(self.url, body)
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError, msgspec.DecodeError):
            _log.warning("Prometheus at %s answered HTTP %s with a body that is not JSON: %r", self.url, status,
                         body[:200])
            if status != 200:  # a proxy's error page, say
                raise PrometheusError("error", f"Prometheus at {self.url} answered HTTP {status}") from None
            raise malformed(self.url, f"HTTP {status} with a body that is not JSON (logged)") from None
        detail = answer.get("error") if isinstance(answer, dict) else None
        error_type = answer.get("errorType") if isinstance(answer, dict) else None
        _log.warning("Prometheus at %s answered HTTP %s: %s: %s", self.url, status, error_type, detail)
        raise PrometheusError(
            "error", f"Prometheus at {self.url} answered HTTP {status}: {error_type} (its message is logged)"
        )

    def _late(self, deadline: Deadline) -> PrometheusError:
        return PrometheusError(
            "timeout", f"Prometheus at {self.url} did not answer within the look's deadline of {deadline.seconds:g} s"
        )

    def _attempts(self, path: str, form: bytes, deadline: Deadline) -> tuple[int, bytes]:
        """Attempt after attempt while retries and the deadline allow; the last failure is raised."""
        attempt = 0
        while True:
            failure: PrometheusError
            try:
                status, body = self._attempt(path, form, deadline)
                if status not in RETRY_STATUSES:
                    return status, body
                failure = PrometheusError("error", f"Prometheus at {self.url} answered HTTP {status}")
            except urllib3.exceptions.EmptyPoolError:  # every connection was busy until the deadline
                raise self._late(deadline) from None
            except urllib3.exceptions.HTTPError as error:
                failure = self._failed(error)
            pause = self._backoff * 2.0**attempt
            attempt += 1
            if attempt > self._retries or deadline.remaining() <= pause:
                raise failure
            time.sleep(pause)

    def _failed(self, error: urllib3.exceptions.HTTPError) -> PrometheusError:
        """A failed exchange as the error counter counts it: timed out, or unreachable."""
        reason = type(error).__name__
        # urllib3's NewConnectionError (refused, no route, no such name) is a ConnectTimeoutError too
        timed_out = not isinstance(error, urllib3.exceptions.NewConnectionError)
        if timed_out and isinstance(error, urllib3.exceptions.TimeoutError):
            return PrometheusError("timeout", f"Prometheus at {self.url} timed out: {reason}")
        return PrometheusError("unreachable", f"Prometheus at {self.url} is unreachable: {reason}")

    def _attempt(self, path: str, form: bytes, deadline: Deadline) -> tuple[int, bytes]:
        """One POST on a pooled connection, waiting at most the timeout for each socket operation."""
        left = deadline.remaining()
        if left <= 0:
            raise self._late(deadline)
        wait = min(self._timeout, left)
        headers = self._headers
        if self._auth is not None:
            headers = headers.copy()
            headers["Authorization"] = self._auth()
        response = self._pool.urlopen(
            "POST", f"{self._prefix}{path}", body=form, headers=headers, timeout=urllib3.Timeout(wait, wait),
            pool_timeout=left,  # type: ignore[arg-type]  # annotated int, waited as a float (queue.get)
            redirect=False, preload_content=False, decode_content=False,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read1(65536):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise malformed(self.url, f"the answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB")
                chunks.append(chunk)
        except BaseException:
            response.close()  # not read to its end: its connection is not reused
            raise
        finally:
            response.release_conn()  # a no-op once urllib3 has put the connection back at the answer's end
        encoding = response.headers.get("content-encoding", "").strip().lower()
        try:
            return response.status, _decode(b"".join(chunks), encoding)
        except zlib.error:
            raise malformed(self.url, f"the {encoding} body does not decompress") from None
