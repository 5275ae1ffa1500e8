"""run_suite: presets in worker processes give the same numbers as in this process (each preset runs
on one thread from its own seeds), in the order asked, with the illustrations' rows."""

from __future__ import annotations

import json

import pytest

from initlab.errors import InitlabError
from initlab.experiments.presets import run_preset
from initlab.experiments.suite import default_jobs, run_suite


@pytest.mark.slow
def test_two_worker_processes_give_the_same_bits_as_one():
    here = run_preset("exploding", budget="quick")
    suite = run_suite(["vanishing", "exploding"], budget="quick", jobs=2, illustrations=True)
    assert list(suite.results) == ["vanishing", "exploding"] and suite.jobs == 2
    there = suite.results["exploding"]
    assert json.dumps(there.rows) == json.dumps(here.rows)
    assert [c["measured"] for c in there.checks] == [c["measured"] for c in here.checks]
    assert there.verdict == here.verdict
    assert {r["part"] for r in suite.illustrations["phase"]} == {"chi1", "critical", "point"}
    assert {r["scheme"] for r in suite.illustrations["schemes"]} >= {"he_normal", "orthogonal"}
    assert suite.cpu_seconds > 0 and suite.seconds > 0


def test_requests_are_checked_before_any_work(monkeypatch):
    from initlab.experiments import presets

    monkeypatch.setattr(presets, "run_preset", lambda *a, **k: pytest.fail("ran before checking"))
    with pytest.raises(InitlabError, match="preset: got 'symetry'"):
        run_suite(["vanishing", "symetry"])
    with pytest.raises(InitlabError, match="jobs: got 0"):
        run_suite(["vanishing"], jobs=0)
    with pytest.raises(InitlabError, match="budget: got 'slow'"):
        run_suite(["vanishing"], budget="slow")


def test_default_jobs_is_one_per_core_at_most_two():
    assert 1 <= default_jobs() <= 2
