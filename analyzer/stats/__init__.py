"""Pure numpy/scipy statistics: rate-ratio tests, e-processes, bucket algebra, diagnostics, Kayenta parity."""

from analyzer.stats.diagnostics import bootstrap_quantile_ratio, chi2_homogeneity
from analyzer.stats.histogram import histogram_quantile, histogram_quantiles, slow_counts
from analyzer.stats.rate_ratio import RateRatioResult, canary_share, rate_ratio_test, ratio_from_share

__all__ = [
    "RateRatioResult",
    "bootstrap_quantile_ratio",
    "canary_share",
    "chi2_homogeneity",
    "histogram_quantile",
    "histogram_quantiles",
    "rate_ratio_test",
    "ratio_from_share",
    "slow_counts",
]
