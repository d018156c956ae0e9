"""Balanced assignment by Sinkhorn (LC-Rec's uniform semantic mapping): each of K codes gets about N / K
of the N rows, each row the code that is cheapest after a per-code price.

Entropic optimal transport between the rows (mass 1/N each) and the codes (mass 1/K each) with cost
C[i, j] = ‖r_i − c_j‖² has the plan P_ij ∝ exp((f_i + g_j − C_ij) / ε). A row's most likely code,
argmax_j P_ij = argmin_j (C_ij − g_j), does not depend on f: the column potential g is a price per code
that makes crowded codes dearer. Keeping g makes the balance reusable: ``encode`` of a new row takes the
same argmin, so the fitted rows' codes are reproduced exactly and new rows follow the same prices.

ε is relative (``epsilon`` × the mean cost), so the same setting works at any scale of the residuals.
"""

from __future__ import annotations

import numpy as np
import torch

from sidkit.quantize.exact_rerank import search_size, settle


def sinkhorn_prices(cost: np.ndarray | torch.Tensor, epsilon: float = 0.05, iters: int = 500, tol: float = 5e-2,
                    start: np.ndarray | None = None) -> np.ndarray:
    """The column potentials g [K] of uniform-marginal entropic transport on ``cost`` [N, K].

    Scaling form (u, v with P = diag(u) e^{−C/ε} diag(v)): two matrix-vector products per update, not
    two passes of exp over the matrix. Each row's kernel is shifted by its cheapest code, so its best
    entries are 1 and nothing a row could pick underflows. Stops when every row's mass is within ``tol``
    (relative) of 1/N, or after ``iters``. ``start``: the potentials of a previous, similar problem
    (the next round of balanced k-means), which saves most of the updates."""
    c = torch.as_tensor(cost, dtype=torch.float64)
    n, k = c.shape
    eps = epsilon * float(c.mean()) or 1.0
    exponent = (c - c.min(dim=1, keepdim=True).values) / eps
    # float32 is 3× faster and enough while e^-exponent stays a normal float32 (exponents under 80); a
    # small ε over widely spread costs needs float64's range. A code no row can reach gets a huge price
    # rather than a division by zero.
    dtype = torch.float32 if float(exponent.max()) < 80 else torch.float64
    kernel = torch.exp(-exponent).to(dtype)
    v = torch.ones(k, dtype=dtype) if start is None else \
        torch.exp(torch.as_tensor(start, dtype=torch.float64) / eps).to(dtype)
    tiny = torch.finfo(dtype).tiny
    for _ in range(iters):
        u = (1.0 / n) / (kernel @ v).clamp_min(tiny)
        v = (1.0 / k) / (kernel.T @ u).clamp_min(tiny)
        # after the v update the columns are exact; the rows' error says how far from converged we are
        if float((u * (kernel @ v) * n - 1).abs().max()) < tol:
            break
    g = eps * torch.log(v.double())
    return (g - g.mean()).numpy()  # prices are defined up to a constant; centred, so runs compare


def squared_distances(x: np.ndarray, centroids: np.ndarray) -> torch.Tensor:
    """[N, K] ‖x_i − c_j‖² (the transport cost)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    ct = torch.from_numpy(np.ascontiguousarray(centroids, dtype=np.float32))
    return ((xt * xt).sum(1, keepdim=True) + (ct * ct).sum(1)[None, :] - 2 * xt @ ct.T).clamp_min_(0)


def priced_nearest(x: np.ndarray, centroids: np.ndarray, prices: np.ndarray, batch: int = 65536,
                   k: int = 1) -> np.ndarray:
    """argmin_j ‖x_i − c_j‖² − prices_j for each row [N] (with k > 1: the k smallest, best first, [N, k]).
    The float32 product's choice, settled exactly where it is in doubt (quantize/exact_rerank.py), so a
    row's code does not depend on its batch."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    ct = torch.from_numpy(np.ascontiguousarray(centroids, dtype=np.float32))
    # ‖x‖² is the same for every code; in float64 where the price is added so ties resolve like the fit
    base = (ct * ct).sum(1).double() - torch.as_tensor(prices, dtype=torch.float64)
    m = search_size(k, len(centroids))
    out = []
    with torch.inference_mode():
        for s in range(0, len(xt), batch):
            score = base[None, :] - 2 * (xt[s:s + batch] @ ct.T).double()
            top = score.topk(m, dim=1, largest=False)
            out.append(settle(xt[s:s + batch].numpy(), centroids, top.values.numpy(), top.indices.numpy(),
                              min(k, len(centroids)), prices))
    best = np.concatenate(out)
    return best[:, 0] if k == 1 else best
