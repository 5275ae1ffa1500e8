"""The values a seed (or a generator) gives are pinned: a change of bits in any law is caught.

``pinned_draws.json`` was written from the engine before it was reorganised by law (see
``pinned_draws.py``). On the machine that wrote it (same platform fingerprint) every case must match
bit for bit; elsewhere the kernels of torch's Box–Muller and of BLAS/LAPACK round differently, so the
pinned values are compared to a relative 1e-5 (bf16: one step of its grid) and the families that use
no such kernel still bit for bit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from . import pinned_draws

PINNED = json.loads(pinned_draws.PATH.read_text())
CASES = pinned_draws.cases()


def test_every_pinned_case_is_still_drawn():
    assert sorted(cid for cid, _, _ in CASES) == sorted(PINNED["cases"])
    # every registry scheme has pinned values
    import initlab

    names = {c if isinstance(c, str) else c["name"] for c, _ in pinned_draws.SCHEMES}
    assert names == {row["name"] for row in initlab.list_schemes()}


@pytest.fixture(scope="module")
def same_platform():
    return pinned_draws.platform_fingerprint() == PINNED["platform"]


@pytest.mark.parametrize("cid, family, draw", CASES, ids=[c[0] for c in CASES])
def test_pinned_values(cid, family, draw, same_platform):
    want = PINNED["cases"][cid]
    got = pinned_draws._digest(draw())
    if same_platform or family.split()[0] in pinned_draws.NO_KERNEL:
        assert got["sha256"] == want["sha256"], f"{cid}: values changed (pinned {want['values']}, got {got['values']})"
        return
    tol = 2.0 ** -7 if "bf16" in cid else 1e-5
    np.testing.assert_allclose(got["values"], want["values"], rtol=tol, atol=tol * 1e-3, err_msg=cid)
