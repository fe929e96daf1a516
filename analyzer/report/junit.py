"""JUnit XML of a judgment: one test case per metric, so CI systems list what passed and what failed.

A failed metric is a ``<failure>``; an undecided one is ``<skipped>`` (it did not fail; the job's exit
code says the gate as a whole was inconclusive). The overall verdict, score and input digest are
suite properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from analyzer.model import Judgment, Verdict


def render_junit(judgment: Judgment, suite: str, elapsed_seconds: float = 0.0) -> str:
    failures = sum(1 for m in judgment.metrics if m.verdict is Verdict.FAIL)
    skipped = sum(1 for m in judgment.metrics if m.verdict is Verdict.INCONCLUSIVE)
    suites = ET.Element("testsuites", name="canary-analyzer", tests=str(len(judgment.metrics)),
                        failures=str(failures), errors="0", skipped=str(skipped), time=f"{elapsed_seconds:.3f}")
    node = ET.SubElement(suites, "testsuite", name=suite, tests=str(len(judgment.metrics)), failures=str(failures),
                         errors="0", skipped=str(skipped), time=f"{elapsed_seconds:.3f}")
    properties = ET.SubElement(node, "properties")
    for key, value in (("verdict", judgment.verdict.value), ("score", f"{judgment.score:g}"),
                       ("steps", str(judgment.steps)), ("input_digest", judgment.input_digest)):
        ET.SubElement(properties, "property", name=key, value=value)
    for metric in judgment.metrics:
        case = ET.SubElement(node, "testcase", classname=suite, name=metric.name, time="0")
        if metric.verdict is Verdict.FAIL:
            ET.SubElement(case, "failure", message=metric.reason, type="regression").text = metric.reason
        elif metric.verdict is Verdict.INCONCLUSIVE:
            ET.SubElement(case, "skipped", message=metric.reason)
        ET.SubElement(case, "system-out").text = metric.reason
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
