"""Outlier detectors of Kayenta's judge: the IQR fence and k-sigma.

IQR: values outside [Q1 - f·IQR, Q3 + f·IQR] with R-7 (linearly interpolated) quartiles. With
``reduce_sensitivity`` the fences widen to at least the 1st and 99th percentiles, the variant the
judge uses (Tukey 1977, "Exploratory Data Analysis"; Hyndman & Fan 1996 for R-7).
k-sigma: values more than k sample standard deviations from the mean.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def iqr_outliers(data: ArrayLike, factor: float = 1.5, reduce_sensitivity: bool = False) -> NDArray[np.bool_]:
    values = np.asarray(data, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    q1, q3 = np.percentile(values, [25, 75])
    lower, upper = q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)
    if reduce_sensitivity:
        p01, p99 = np.percentile(values, [1, 99])
        lower, upper = min(p01, lower), max(p99, upper)
    result: NDArray[np.bool_] = (values < lower) | (values > upper)
    return result


def ksigma_outliers(data: ArrayLike, k: float = 3.0) -> NDArray[np.bool_]:
    values = np.asarray(data, dtype=np.float64)
    if values.size < 2:
        return np.zeros(values.size, dtype=bool)
    result: NDArray[np.bool_] = np.abs(values - values.mean()) > k * values.std(ddof=1)
    return result
