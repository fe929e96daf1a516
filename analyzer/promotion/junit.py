"""JUnit XML reports (the V3 negative-test suite) reduced to the counts a gate needs.

Accepts ``<testsuites>`` or a single ``<testsuite>``; counts come from the test cases themselves
(a ``<failure>`` or ``<error>`` child), not from attributes that tools fill inconsistently; the
``tests`` attributes the suites declare are kept as ``declared`` (None: none declared), so that a gate
can refuse a report whose cases are missing (``<testsuite tests="250"/>``).
Documents with a DOCTYPE or entities are refused (no entity expansion from uploaded files).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from analyzer.errors import InputError

MAX_BYTES = 10_000_000


def parse_junit(text: str, source: str = "report") -> dict[str, Any]:
    if len(text) > MAX_BYTES:
        raise InputError(f"{source}: larger than {MAX_BYTES // 1_000_000} MB")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise InputError(f"{source}: DOCTYPE and entities are not accepted in JUnit reports")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise InputError(f"{source}: not well-formed XML: {error}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise InputError(f"{source}: the root element is <{root.tag}>, not <testsuites> or <testsuite>")
    cases = list(root.iter("testcase"))
    failed = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    return {
        "declared": _declared(root),
        "name": root.get("name", ""),
        "tests": len(cases),
        "failures": sum(c.find("failure") is not None for c in cases),
        "errors": sum(c.find("error") is not None for c in cases),
        "skipped": sum(c.find("skipped") is not None for c in cases),
        "failed_cases": [f"{c.get('classname', '')}.{c.get('name', '')}".strip(".") for c in failed],
    }


def _declared(root: ET.Element) -> int | None:
    """The ``tests`` count the document declares: the root's, else the sum of its suites' (None: none)."""
    suites = [root] if root.get("tests") is not None else [s for s in root.iter("testsuite") if s.get("tests")]
    try:
        return sum(int(s.get("tests", "")) for s in suites) if suites else None
    except ValueError:
        return -1  # a count that is not a number disagrees with any set of cases
