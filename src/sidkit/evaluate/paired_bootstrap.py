"""Paired bootstrap over test users: is tokenizer A better than B, or is the gap inside the noise?

Both tokenizers are scored on the same users, so the question is about the per-user differences
d_u = metric_A(u) − metric_B(u). Resampling users with replacement (seeded) and taking the mean of d each
time gives the sampling distribution of the mean gap; its 2.5th and 97.5th percentiles are the 95%
interval. The verdict reads the interval: ``win`` if it lies above 0, ``loss`` below, ``tie`` if it holds 0
(not summed standard deviations across seeds, which ignore that both rows saw the same users).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sidkit.errors import SidkitError


@dataclass(frozen=True)
class PairedGap:
    mean: float        # mean of metric_A − metric_B over users
    low: float         # 95% interval (or ``level``)
    high: float
    verdict: str       # win / tie / loss for A against B
    n_users: int
    resamples: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "verdict": self.verdict,
                "n_users": self.n_users, "resamples": self.resamples}


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, resamples: int = 2000, level: float = 0.95,
                     seed: int = 0, chunk: int = 100) -> PairedGap:
    """The mean per-user gap ``a − b`` and its bootstrap interval; ``a[u]`` and ``b[u]`` are the same user."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise SidkitError(f"paired bootstrap: per-user scores of shapes {a.shape} and {b.shape}; expected two "
                          "1-D arrays over the same users")
    if len(a) == 0:
        raise SidkitError("paired bootstrap: no users; expected at least one")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise SidkitError("paired bootstrap: NaN or inf in a per-user score; expected finite numbers")
    if resamples < 1 or not 0 < level < 1:
        raise SidkitError(f"paired bootstrap: resamples={resamples}, level={level}; expected ≥ 1 and in (0, 1)")
    d = a - b
    rng = np.random.default_rng(seed)
    means = np.concatenate([d[rng.integers(0, len(d), size=(min(chunk, resamples - s), len(d)))].mean(axis=1)
                            for s in range(0, resamples, chunk)])
    tail = (1 - level) / 2
    low, high = (float(v) for v in np.quantile(means, [tail, 1 - tail]))
    verdict = "win" if low > 0 else "loss" if high < 0 else "tie"
    return PairedGap(float(d.mean()), low, high, verdict, len(d), resamples)
