"""Shared set-up for the scheme tests.

Each test runs with one torch intra-op thread (restored afterwards): the tensors here are small,
and on a busy machine OpenMP teams waiting for each other cost more than they save. Independence
from the thread count is itself tested, explicitly, in ``test_reproducibility.py``.
"""

import pytest

from initlab._threads import torch_threads


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    with torch_threads(1):
        yield
