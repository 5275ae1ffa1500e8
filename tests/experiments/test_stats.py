"""Confidence intervals and the three outcomes: the t quantile against SciPy's (computed independently
there), the interval against the textbook formula, and every criterion shown to come out reproduced,
contradicted and inconclusive."""

from __future__ import annotations

import math

import pytest

from initlab.errors import InitlabError
from initlab.experiments.stats import incomplete_beta, paired, summarize, t_quantile
from initlab.experiments.verdict import (CONTRADICTED, INCONCLUSIVE, REPRODUCED, at_least, at_most, every, greater,
                                         no_worse, verdict, within)

scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 7, 9, 15, 30, 120, 1000])
@pytest.mark.parametrize("p", [1e-6, 0.001, 0.025, 0.1, 0.4, 0.5001, 0.6, 0.9, 0.95, 0.975, 0.995, 0.9999])
def test_t_quantile_matches_scipy(df, p):
    assert t_quantile(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-8, abs=1e-12)


def test_t_quantile_known_values_and_symmetry():
    # table values of t_{0.975, ν} (Student 1908; any statistics table)
    for df, value in ((1, 12.706204736), (2, 4.302652730), (4, 2.776445105), (10, 2.228138852)):
        assert t_quantile(0.975, df) == pytest.approx(value, rel=1e-9)
    assert t_quantile(0.5, 3) == 0.0 and t_quantile(0.2, 6) == pytest.approx(-t_quantile(0.8, 6), rel=1e-14)
    # non-integer degrees of freedom are allowed (Welch-type use)
    assert t_quantile(0.9, 2.5) == pytest.approx(scipy_stats.t.ppf(0.9, 2.5), rel=1e-8)


@pytest.mark.parametrize("x, a, b", [(0.3, 2.0, 3.0), (0.9, 0.5, 4.0), (0.01, 10.0, 0.5), (0.5, 50.0, 50.0),
                                     (0.999, 1.5, 0.5)])
def test_incomplete_beta_matches_scipy(x, a, b):
    assert incomplete_beta(x, a, b) == pytest.approx(scipy_special.betainc(a, b, x), rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("bad, match", [({"p": 0.0}, "p: got 0.0"), ({"p": 1.5}, "p: got 1.5"),
                                        ({"df": 0}, "df: got 0"), ({"df": math.nan}, "df: got nan")])
def test_t_quantile_rejects_bad_arguments(bad, match):
    args = {"p": 0.9, "df": 3, **bad}
    with pytest.raises(InitlabError, match=match):
        t_quantile(**args)


def test_the_interval_is_the_student_t_interval():
    values = [0.91, 0.87, 0.95, 0.90, 0.89]
    s = summarize(values)
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = scipy_stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert s.mean == pytest.approx(mean) and s.sd == pytest.approx(sd) and s.n == n
    assert s.ci == pytest.approx((mean - half, mean + half), rel=1e-9)
    lo, hi = scipy_stats.t.interval(0.95, n - 1, loc=mean, scale=sd / math.sqrt(n))
    assert s.ci == pytest.approx((lo, hi), rel=1e-9)


def test_paired_differences_and_log_scale():
    a, b = [3.0, 5.0, 4.0, 6.0], [1.0, 2.0, 2.5, 3.0]
    d = paired(a, b)
    diffs = [x - y for x, y in zip(a, b)]
    assert d.mean == pytest.approx(sum(diffs) / 4)
    ref = scipy_stats.ttest_rel(a, b)  # the paired t statistic from the same interval
    assert d.mean / (d.sd / 2) == pytest.approx(ref.statistic, rel=1e-10)
    g = summarize([10.0, 100.0, 1000.0], log=True)
    assert g.mean == pytest.approx(2.0) and g.value(g.mean) == pytest.approx(100.0)
    r = paired([10.0, 20.0], [1.0, 2.0], log=True)
    assert r.mean == pytest.approx(1.0) and r.sd == pytest.approx(0.0, abs=1e-15)


def test_degenerate_samples():
    assert summarize([2.0]).ci == (-math.inf, math.inf)
    assert summarize([1.0, 1.0, 1.0]).ci == (1.0, 1.0)
    assert summarize([0.0, 1.0], log=True).ci == (-math.inf, math.inf)
    with pytest.raises(InitlabError, match="number of values: got 0"):
        summarize([])


# ------------------------------------------------------------------------------ the three outcomes

HIGH, MID, LOW = [0.95, 0.96, 0.94, 0.95, 0.97], [0.78, 0.86, 0.80, 0.84, 0.79], [0.50, 0.52, 0.49, 0.51, 0.48]


@pytest.mark.parametrize("make, outcome", [
    (lambda: at_least("acc ≥ 0.8", HIGH, 0.8), REPRODUCED),
    (lambda: at_least("acc ≥ 0.8", LOW, 0.8), CONTRADICTED),
    (lambda: at_least("acc ≥ 0.8", MID, 0.8), INCONCLUSIVE),
    (lambda: at_most("acc ≤ 0.8", LOW, 0.8), REPRODUCED),
    (lambda: at_most("acc ≤ 0.8", HIGH, 0.8), CONTRADICTED),
    (lambda: at_most("acc ≤ 0.8", MID, 0.8), INCONCLUSIVE),
    (lambda: within("in [0.9, 1]", HIGH, 0.9, 1.0), REPRODUCED),
    (lambda: within("in [0.9, 1]", LOW, 0.9, 1.0), CONTRADICTED),
    (lambda: within("in [0.8, 1]", MID, 0.8, 1.0), INCONCLUSIVE),
    (lambda: at_least("×≥ 3", [10.0, 12.0, 9.0], 3.0, log=True), REPRODUCED),
    (lambda: at_least("×≥ 3", [1.0, 1.2, 0.9], 3.0, log=True), CONTRADICTED),
    (lambda: greater("a > b + 0.3", HIGH, LOW, 0.3), REPRODUCED),
    (lambda: greater("a > b + 0.3", LOW, HIGH, 0.3), CONTRADICTED),
    (lambda: greater("a > b", [0.5, 0.7, 0.6], [0.6, 0.5, 0.62], 0.0), INCONCLUSIVE),
    (lambda: greater("a/b > 2", [10.0, 11.0, 12.0], [1.0, 1.1, 1.0], 2.0, log=True), REPRODUCED),
    (lambda: no_worse("within 1 pt", [0.90, 0.91, 0.92], [0.90, 0.91, 0.92], 0.01), REPRODUCED),
    (lambda: no_worse("within 1 pt", [0.95, 0.96, 0.97], [0.90, 0.91, 0.91], 0.01), CONTRADICTED),
    (lambda: no_worse("within 1 pt", [0.90, 0.95, 0.92], [0.93, 0.91, 0.90], 0.01), INCONCLUSIVE),
    (lambda: every("all one", [[1, 1], [1, 1]], lambda c: set(c) == {1}, "counts"), REPRODUCED),
    (lambda: every("all one", [[1, 1], [1, 2]], lambda c: set(c) == {1}, "counts"), CONTRADICTED),
])
def test_each_criterion_has_all_its_outcomes(make, outcome):
    check = make()
    assert check.outcome == outcome, check.measured
    assert check.passed == (outcome == REPRODUCED)
    d = check.to_dict()
    assert d["outcome"] == outcome and d["criterion"] == check.criterion and "95% t-CI" in d["measured"] or \
        check.kind == "every"


def test_the_verdict_combines_the_outcomes():
    yes, no, maybe = (at_least("x", HIGH, 0.8), at_least("x", LOW, 0.8), at_least("x", MID, 0.8))
    assert verdict([yes, yes]) == REPRODUCED
    assert verdict([yes, maybe]) == INCONCLUSIVE
    assert verdict([yes, maybe, no]) == CONTRADICTED
    assert verdict([]) == INCONCLUSIVE


def test_measured_text_shows_mean_sd_interval_and_n():
    c = greater("He beats Glorot", [0.92, 0.93, 0.95], [0.90, 0.91, 0.92], 0.0, unit="pts", names=("he", "glorot"))
    assert c.measured.startswith("he − glorot = +2.3 ± 0.6 (95% t-CI [+0.9, +3.8] points, n=3)")
