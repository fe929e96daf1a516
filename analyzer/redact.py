"""Secrets never leave in text: credentials are masked in every log record and every error message.

What is masked, wherever it appears in a message, a structured field, an exception's traceback or a
stack:

* a URL's user information: ``https://user:password@host`` → ``https://***@host``;
* credential query parameters: ``?access_token=…``, ``&token=…``, ``api_key``, ``password``,
  ``client_secret``, ``sig``/``signature`` (a signed report link) … → ``access_token=***``;
* the value of credential and tenant headers: ``Authorization``, ``Proxy-Authorization``,
  ``X-Scope-OrgID``, ``X-Api-Key``, ``Cookie`` … as ``Name: value``, ``'Name': 'value'`` (a dict's
  repr) or ``"Name": "value"`` (JSON) → ``Authorization: ***``;
* an authentication scheme's credentials: ``Bearer eyJ…``, ``Basic dXNlcj…`` → ``Bearer ***``.

:func:`install` wraps the logging module's record factory, so that every record is masked when it is
made, whatever logger made it (ours, uvicorn's, urllib3's, SQLAlchemy's) and whatever handler writes it
(the JSON handler, the root logger's, the last-resort handler, a test's capture): a filter on one
handler misses the records that reach other handlers, and a filter on a logger misses its children's.
Structured ``fields`` are added to a record after it is made, so a filter on the JSON handler (the one
writer of fields) masks those.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

MASK = "***"

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"'\\]+@")
_QUERY = re.compile(
    r"(?i)([?&;](?:access_token|id_token|refresh_token|token|auth|api[_-]?key|apikey|key|password|passwd|secret"
    r"|client_secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s\"'\\]+"
)
_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-scope-orgid|x-api-key|api-key|x-auth-token|private-token|cookie|set-cookie)"
    r"((?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)([^\"'\\\r\n,}]+)"
)
_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def redact(text: str) -> str:
    """``text`` with every credential it shows masked (see the module's docstring for which)."""
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _QUERY.sub(rf"\1{MASK}", text)
    text = _HEADER.sub(rf"\1\2{MASK}", text)
    return _SCHEME.sub(rf"\1 {MASK}", text)


def _scrubbed(value: Any) -> Any:
    """A structured log field with its strings redacted (mappings and sequences walked)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    return value


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the credentials a record carries when it is made, in place: its message (arguments merged in),
    its exception and its stack.

    The exception is kept as its formatted text (``exc_text``, which :class:`logging.Formatter` prints):
    the exception object itself may hold a URL with a password."""
    try:
        record.msg, record.args = redact(record.getMessage()), None
    except Exception:  # a bad format string: logging reports it when the record is written, as it always did
        record.msg = _scrubbed(record.msg)
        record.args = tuple(_scrubbed(a) for a in record.args) if isinstance(record.args, tuple) else record.args
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactFields(logging.Filter):
    """For the JSON handler: masks the structured ``fields`` (set after the record is made, from ``extra``)
    and writes the masked exception text as the ``exception`` field."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        fields = _scrubbed(fields) if isinstance(fields, dict) else {}
        if record.exc_text and record.exc_info is None:
            fields.setdefault("exception", redact(record.exc_text))
        record.fields = fields
        return True


def install(handler: logging.Handler) -> None:
    """Mask every log record from now on, and the fields ``handler`` writes (idempotent)."""
    if not any(isinstance(f, RedactFields) for f in handler.filters):
        handler.addFilter(RedactFields())
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(current(*args, **kwargs))

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
