"""A range answer decoded flat and put on the window's steps in one scatter, as the per-series code put it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyzer.sources.grid import Grid
from analyzer.sources.promapi import PrometheusError, parse_matrix

START, STEP = 1_800_000_000, 60


def _body(result: list[dict[str, object]], **extra: object) -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}).encode()


def test_every_value_prometheus_writes_is_read_and_placed_on_its_step():
    values = [[START + 60, "1.25"], [START + 120, "NaN"], [START + 180, "+Inf"], [START + 240, "-Inf"],
              [START + 300, "-3"], [START + 360, "0"], [START + 420, "2885.0999999999913"]]
    result = [{"metric": {"le": "+Inf", "pod": "a"}, "values": values},  # a label +Inf stays as it is
              {"metric": {"pod": "b"}, "values": [[START + 120, "7"], [START + 9999, "8"], [START, "9"]]},
              {"metric": {}, "values": []}]
    matrix = parse_matrix("u", _body(result, warnings=["+Inf"]))
    assert matrix.labels == [{"le": "+Inf", "pod": "a"}, {"pod": "b"}, {}]
    assert matrix.warnings == ["+Inf"]
    grid = Grid.of(matrix, START, STEP, 7)
    assert grid.values[0].tolist() == [1.25, 0, 0, 0, 0, 0, 2885.0999999999913]
    assert grid.present[0].tolist() == [True, False, False, False, True, True, True]  # finite, even if not > 0
    assert grid.values[1].tolist() == [0, 7, 0, 0, 0, 0, 0]  # samples off the window are left out
    assert grid.present[1].sum() == 1 and not grid.present[2].any()


def test_lax_floats_are_python_s_floats():
    rng = np.random.default_rng(5)
    numbers = [repr(float(x)) for x in np.concatenate([rng.random(500) * 1e4, np.exp(rng.uniform(-700, 700, 500))])]
    values = [[START + 60 * (k + 1), n] for k, n in enumerate(numbers)]
    matrix = parse_matrix("u", _body([{"metric": {}, "values": values}]))
    assert matrix.values.tolist() == [float(n) for n in numbers]
    assert matrix.times.tolist() == [float(START + 60 * (k + 1)) for k in range(len(numbers))]


@pytest.mark.parametrize("result", [
    [{"metric": {}, "histograms": [[START, {"count": "1"}]]}],  # native histograms: no 'values'
    [{"metric": {}, "values": [[START, "1", "2"]]}],
    [{"metric": {}, "values": [["soon", "1"]]}],
    [{"metric": {}, "values": [[START, "1,5"]]}],
    [{"metric": {"pod": ["a"]}, "values": []}],
], ids=["native histograms", "three columns", "a timestamp that is not a number", "not a number", "a list label"])
def test_what_is_not_a_matrix_of_numbers_is_malformed(result):
    with pytest.raises(PrometheusError, match="malformed answer") as raised:
        parse_matrix("u", _body(result))
    assert raised.value.kind == "malformed"

