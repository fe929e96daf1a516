"""JUnit XML of a judgment: one test case per metric, so CI systems list what passed and what failed.

A failed metric is a ``<failure>``; an undecided one is ``<skipped>`` (it did not fail; the job's exit
code says the gate as a whole was inconclusive). The overall verdict, score and input digest are
suite properties. When there is nothing to judge, one ``<error>`` case says why.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from analyzer.model import Judgment, Verdict

# A case: (name, outcome element or None for a pass, message).
_Case = tuple[str, str | None, str]


def _document(suite: str, cases: list[_Case], properties: dict[str, str], elapsed_seconds: float) -> str:
    counts = {tag: str(sum(outcome == tag for _, outcome, _ in cases)) for tag in ("failure", "error", "skipped")}
    totals = {"tests": str(len(cases)), "failures": counts["failure"], "errors": counts["error"],
              "skipped": counts["skipped"], "time": f"{elapsed_seconds:.3f}"}
    suites = ET.Element("testsuites", {"name": "canary-analyzer", **totals})
    node = ET.SubElement(suites, "testsuite", {"name": suite, **totals})
    if properties:
        block = ET.SubElement(node, "properties")
        for key, value in properties.items():
            ET.SubElement(block, "property", name=key, value=value)
    for name, outcome, message in cases:
        case = ET.SubElement(node, "testcase", classname=suite, name=name, time="0")
        if outcome is not None:
            element = ET.SubElement(case, outcome, message=message)
            if outcome == "failure":
                element.set("type", "regression")
                element.text = message
        ET.SubElement(case, "system-out").text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render_junit(judgment: Judgment, suite: str, elapsed_seconds: float = 0.0) -> str:
    outcome = {Verdict.FAIL: "failure", Verdict.INCONCLUSIVE: "skipped", Verdict.PASS: None}
    cases = [(m.name, outcome[m.verdict], m.reason) for m in judgment.metrics]
    properties = {"verdict": judgment.verdict.value, "score": f"{judgment.score:g}", "steps": str(judgment.steps),
                  "input_digest": judgment.input_digest}
    return _document(suite, cases, properties, elapsed_seconds)


def render_junit_error(suite: str, message: str, elapsed_seconds: float = 0.0) -> str:
    """One erroring case named ``canary``: there was no judgment to report (e.g. no canary appeared)."""
    return _document(suite, [("canary", "error", message)], {}, elapsed_seconds)
