import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """One CPU thread: these models are small, and on a shared machine a parallel region waits for
    a busy core more often than it saves time."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def digits():
    """256 of scikit-learn's handwritten digits (a fixed subset), standardized per pixel (constant
    pixels stay 0), as (N, 1, 8, 8) float32 and int64 class labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(np.float64)
    sd = x.std(0)
    x = (x - x.mean(0)) / np.where(sd > 0, sd, 1.0)
    idx = np.random.default_rng(0).permutation(len(x))[:256]
    return (torch.tensor(x[idx], dtype=torch.float32).reshape(-1, 1, 8, 8),
            torch.tensor(d.target[idx], dtype=torch.int64))
