"""The structured families — orthogonal, delta-orthogonal, identity, dirac, sparse — each written once for
every source of randomness (:mod:`initlab.schemes._sources`) and both backends: the NumPy backend runs
these same functions on a float64 tensor and casts.

A sampler has the signature ``sampler(tensor, dist, source)`` and fills ``tensor`` (any floating dtype,
any device) in place. Gaussian matrices come from ``source.gaussian_`` (seeded blocks, a torch
generator, or a NumPy generator), random permutations from ``source.keys``.
"""

from __future__ import annotations

from .._threads import torch_threads
from ._pool import for_blocks, single_threaded
from ._seeded import work_dtype

__all__ = ["orthogonal", "delta_orthogonal", "identity", "dirac", "sparse", "orthogonal_matrix", "matrix",
           "matrix_values"]


def _orthogonal_(mat, source) -> None:
    """Overwrite the C-contiguous fp32/fp64 (rows, cols) matrix ``mat`` with a Haar-distributed matrix
    with orthonormal rows (rows ≤ cols) or columns.

    With a generator (torch's or NumPy's): Q·diag(sign(diag R)) of the Householder QR of a Gaussian matrix
    A (Mezzadri 2007, "How to generate random matrices from the classical compact groups"), which is
    what ``torch.nn.init.orthogonal_`` computes, bit for bit with the same torch generator. A is drawn
    into ``mat`` itself; LAPACK's ``geqrf`` and ``orgqr`` (Golub & Van Loan 2013, §5.2) then run in
    place on a column-major matrix: for rows < cols that is Aᵀ's storage, i.e. ``mat`` itself, otherwise
    a column-major copy of A (one matrix of extra memory) is factorised and copied back.

    With a seed: the same law, from the reflectors directly (:func:`_haar_from_reflectors_`), with no
    QR, in half the arithmetic and with values that do not depend on the thread count.
    """
    import torch

    rows, cols = mat.shape
    if source.seeded and mat.device.type != "cpu":  # formed on the CPU: a CPU tensor's values, copied
        mat.copy_(orthogonal_matrix(rows, cols, mat.dtype, torch.device("cpu"), source))
        return
    source.gaussian_(mat)
    if source.seeded:
        _haar_from_reflectors_(mat.t() if rows < cols else mat)
        return
    if rows < cols:
        a = mat.t()  # QR of Aᵀ (cols × rows), stored column-major in mat's own memory
    else:
        a = torch.empty_strided((rows, cols), (1, rows), dtype=mat.dtype, device=mat.device)
        a.copy_(mat)
    tau = torch.empty(min(rows, cols), dtype=mat.dtype, device=mat.device)
    torch.geqrf(a, out=(a, tau))
    sign = torch.diagonal(a).sign()  # a fresh tensor: the signs of R's diagonal
    torch.linalg.householder_product(a, tau, out=a)
    a.mul_(sign)
    if rows >= cols:
        mat.copy_(a)


_HH_BLOCK = 64
"""Reflectors applied together as one block reflector I − V·T·Vᵀ by :func:`_haar_from_reflectors_`."""

_HH_CHUNK = 256
"""Columns (trailing update) or rows (a block's own columns) per task of :func:`_haar_from_reflectors_`."""


def _haar_from_reflectors_(q) -> None:
    """Overwrite ``q`` (m × k, m ≥ k, any strides), which holds i.i.d. N(0, 1), with the first k columns
    of a Haar-distributed m × m orthogonal matrix.

    The law. In the Householder QR of a Gaussian matrix G = [g₁ … g_k], the first reflector H₁ depends
    on g₁ alone, and H₁·[g₂ … g_k] below its first row is again an i.i.d. Gaussian matrix independent of
    g₁ (rotation invariance); so the k reflectors have the law of reflectors built from k independent
    Gaussian vectors of lengths m, m−1, …, m−k+1 (Stewart 1980, "The efficient generation of random
    orthogonal matrices with an application to condition estimators"). Column j of ``q`` below the
    diagonal is that vector: x = q[j:, j]. In LAPACK's convention (``larfg``) its reflector
    H = I − τ·v·vᵀ maps x to β·e₁ with β = −sign(x₀)·‖x‖, v = (1, x₁/(x₀ − β), …), τ = (β − x₀)/β ∈ [1, 2],
    and R's diagonal entry is β. Q = H₁·…·H_k·diag(sign β), the Q of Mezzadri's sign-folded QR, is Haar.
    A vector of length 1 (the last column of a square matrix) gives τ = 2, H = −1 and sign β = −sign x₀,
    the same column as LAPACK's τ = 0, H = 1, sign β = sign x₀. The factorisation itself is never run:
    forming Q from its reflectors (``orgqr``'s work, 2mk² − 2k³/3 flops) is all that is left.

    The arithmetic. Blocks of b = :data:`_HH_BLOCK` reflectors, last block first, each applied as
    I − V·T·Vᵀ (the compact WY form, Schreiber & Van Loan 1989) with T from T⁻¹ = striu(VᵀV) + diag(1/τ)
    (the UT transform, Joffrain et al. 2006, "Accumulating Householder transformations, revisited"):
    first to the columns already formed, Q[j₀:, j₁:] −= V·(T·(Vᵀ·Q[j₀:, j₁:])), then to the identity's
    own columns, Q[j₀:, j₀:j₁] = E − V·(T·V[:b]ᵀ), overwriting V. Before block j only the reflectors
    right of it have acted, so the rows above it hold zeros.

    Threads. Every product runs as single-threaded BLAS on fixed chunks of :data:`_HH_CHUNK` columns
    (or rows) handed to the engine's pool; the chunks, and so the rounding, do not depend on the thread
    count. Extra memory: a few m × b panels.
    """
    import torch

    m, k = q.shape
    dt = q.dtype
    with torch_threads(1) as nthreads:
        signs = torch.empty(k, dtype=dt)
        for j0 in reversed(range(0, k, _HH_BLOCK)):
            j1 = min(j0 + _HH_BLOCK, k)
            b = j1 - j0
            q[:j0, j0:j1] = 0.0
            v = q[j0:, j0:j1]
            head = v[:b]  # b × b: column c's vector starts on its diagonal
            x = v.to(torch.float64, copy=True)
            x[:b].tril_()
            x0 = torch.diagonal(x[:b]).clone()
            norm = x.square_().sum(0).sqrt_()
            sign_x0 = torch.where(x0 >= 0, 1.0, -1.0).to(torch.float64)
            beta = -sign_x0 * norm
            tau = (beta - x0) / beta
            signs[j0:j1] = -sign_x0.to(dt)
            head.tril_()
            v.mul_((1.0 / (x0 - beta)).to(dt))
            torch.diagonal(head).fill_(1.0)
            gram = (v.t() @ v).to(torch.float64)
            t_inv = gram.triu_(1) + torch.diag(1.0 / tau)
            t = torch.linalg.solve_triangular(t_inv, torch.eye(b, dtype=torch.float64), upper=True).to(dt)

            def trailing(c: int, v=v, t=t, j0=j0, j1=j1) -> None:
                cols = q[j0:, j1 + c * _HH_CHUNK: j1 + (c + 1) * _HH_CHUNK]
                cols.addmm_(v, t @ (v.t() @ cols), alpha=-1.0)

            for_blocks(-(-(k - j1) // _HH_CHUNK), single_threaded(trailing), workers=nthreads)
            w = t @ head.t()  # before ``own`` overwrites head

            def own(r: int, v=v, w=w) -> None:
                part = v[r * _HH_CHUNK:(r + 1) * _HH_CHUNK]
                part.copy_(part @ w).neg_()
                if r * _HH_CHUNK < b:  # the identity's entries lie in the first b rows
                    torch.diagonal(part[:, r * _HH_CHUNK:]).add_(1.0)

            for_blocks(-(-(m - j0) // _HH_CHUNK), single_threaded(own), workers=nthreads)
        q.mul_(signs)


def orthogonal_matrix(rows: int, cols: int, dtype, device, source):
    """A new (rows, cols) matrix of ``dtype`` (fp32/fp64) with orthonormal rows or columns, Haar-distributed."""
    import torch

    mat = torch.empty((rows, cols), dtype=dtype, device=device)
    _orthogonal_(mat, source)
    return mat


def orthogonal(tensor, dist, source) -> None:
    """gain·Q on the tensor flattened to (rows, cols) (see :class:`initlab.schemes.initializers.Orthogonal`)."""
    p = dist.params
    rows, cols = p["rows"], p["cols"]
    work = work_dtype(tensor.dtype)
    if tensor.dtype == work and tensor.is_contiguous():
        _orthogonal_(tensor.view(rows, cols), source)
        tensor.mul_(p["gain"])
    else:
        q = orthogonal_matrix(rows, cols, work, tensor.device, source)
        tensor.copy_(q.mul_(p["gain"]).reshape(tensor.shape))


def _centre(shape) -> tuple:
    return tuple(k // 2 for k in shape[2:])


def delta_orthogonal(tensor, dist, source) -> None:
    """Zeros, and gain·H (out × in, orthonormal columns) at the kernel's centre (Xiao et al. 2018)."""
    out_c, in_c = tensor.shape[0], tensor.shape[1]
    q = orthogonal_matrix(out_c, in_c, work_dtype(tensor.dtype), tensor.device, source).mul_(dist.params["gain"])
    tensor.zero_()
    tensor[(slice(None), slice(None), *_centre(tensor.shape))] = q.to(tensor.dtype)


def identity(tensor, dist, source) -> None:
    """gain on the main diagonal of a 2-D tensor, zeros elsewhere."""
    import torch

    tensor.zero_()
    n = min(tensor.shape)
    idx = torch.arange(n, device=tensor.device)
    tensor[idx, idx] = dist.params["gain"]


def dirac(tensor, dist, source) -> None:
    """gain at the kernel centre of output channel d of each group, from input channel d."""
    p = dist.params
    tensor.zero_()
    groups, per_group = p["groups"], tensor.shape[0] // p["groups"]
    n = min(per_group, tensor.shape[1])
    centre = _centre(tensor.shape)
    for g in range(groups):
        for d in range(n):
            tensor[(g * per_group + d, d, *centre)] = p["gain"]


def matrix_values(dist):
    """The float64 values of a deterministic law (``hadamard_identity`` — ZerO, ``padded_identity`` — IDInit)
    for ``dist.shape`` in ``dist.layout``."""
    import torch

    shape, p = dist.shape, dist.params
    if dist.family == "padded_identity":
        rows, cols = shape
        m = min(rows, cols)
        i = torch.arange(rows).unsqueeze(1) % m
        j = torch.arange(cols).unsqueeze(0) % m
        return (i == j).to(torch.float64) * p["tau"]
    out, inn = p["out"], p["inn"]
    if p["k"] is None:
        mat = torch.eye(out, inn, dtype=torch.float64)
    else:
        x = torch.arange(out, dtype=torch.int64).unsqueeze(1) & torch.arange(inn, dtype=torch.int64).unsqueeze(0)
        for s in (32, 16, 8, 4, 2, 1):  # parity of the bits of i & j: H[i, j] = (−1)^popcount(i & j)
            x = x ^ (x >> s)
        mat = (1.0 - 2.0 * (x & 1).to(torch.float64)) / 2 ** (p["k"] / 2)
    full = torch.zeros(shape, dtype=torch.float64)
    if dist.layout == "torch":
        full[(slice(None), slice(None), *(k // 2 for k in shape[2:]))] = mat
    else:
        full[(*(k // 2 for k in shape[:-2]), slice(None), slice(None))] = mat.t()
    return full


def matrix(tensor, dist, source) -> None:
    """A deterministic law (ZerO, IDInit): the values :func:`matrix_values` computes, whatever the source."""
    tensor.copy_(matrix_values(dist).to(device=tensor.device, dtype=tensor.dtype))


def sparse(tensor, dist, source) -> None:
    """N(0, std²), then in each column the rows of a random permutation's first ``zeros_per_column``
    entries set to zero (the permutation: argsort of uniform keys)."""
    import torch

    p = dist.params
    rows, cols = tensor.shape
    buf = torch.empty((rows, cols), dtype=work_dtype(tensor.dtype), device=tensor.device)
    source.gaussian_(buf)
    buf.mul_(p["std"])
    nz = p["zeros_per_column"]
    if nz:
        zero_rows = source.keys((rows, cols), tensor.device).argsort(dim=0)[:nz]
        buf.scatter_(0, zero_rows, 0.0)
    tensor.copy_(buf)
