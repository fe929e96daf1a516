"""JUnit XML: one case per metric, counts that match the cases, and an error case when nothing was judged."""

import xml.etree.ElementTree as ET

import analyzer
from analyzer.report import render_junit, render_junit_error
from analyzer.sources.simulate import Scenario, simulate


def test_cases_and_counts_match():
    judgment = analyzer.judge(simulate(Scenario(error_ratio=3.0), 1))
    suite = ET.fromstring(render_junit(judgment, "gate", 1.5)).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [m.name for m in judgment.metrics]
    for tag, attribute in (("failure", "failures"), ("skipped", "skipped"), ("error", "errors")):
        assert int(suite.get(attribute, "-1")) == sum(c.find(tag) is not None for c in cases)
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["verdict"] == "fail"


def test_nothing_judged_is_one_error_case():
    root = ET.fromstring(render_junit_error("gate shop/checkout", "no canary by the timeout"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and root.get("tests") == "1"
    [case] = suite.findall("testcase")
    error = case.find("error")
    assert case.get("name") == "canary" and error is not None and error.get("message") == "no canary by the timeout"
