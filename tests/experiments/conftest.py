"""Shared set-up for the experiment tests."""

from __future__ import annotations

import contextlib

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread for torch and for NumPy's BLAS: these tests run thousands of tiny kernels, and on
    a shared machine hand-offs between threads cost more than they save. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        blas = threadpool_limits(1)
    except ImportError:  # threadpoolctl comes with scikit-learn
        blas = contextlib.nullcontext()
    with blas:
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def digits_small():
    from initlab.experiments.datasets import load

    return load("digits", n_train=320, n_test=100)
