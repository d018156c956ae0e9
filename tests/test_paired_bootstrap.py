"""The paired bootstrap that turns per-user scores of two tokenizers into win / tie / loss (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

from sidkit.errors import SidkitError
from sidkit.evaluate.paired_bootstrap import paired_bootstrap


def test_a_constant_gap_has_a_zero_width_interval():
    rng = np.random.default_rng(0)
    b = rng.random(500)
    gap = paired_bootstrap(b + 0.25, b, resamples=300)
    assert gap.low == pytest.approx(0.25) and gap.high == pytest.approx(0.25) and gap.verdict == "win"
    same = paired_bootstrap(b, b, resamples=300)
    assert (same.low, same.high, same.verdict) == (0.0, 0.0, "tie")
    assert paired_bootstrap(b, b + 0.1, resamples=300).verdict == "loss"


def test_the_interval_matches_the_normal_approximation_on_a_known_case():
    # 4,000 users whose differences are ±1 with P(+1) = 0.55: mean 0.1, sd 0.995; the 95% interval of the
    # mean is 0.1 ± 1.96 · 0.995 / √4000 = 0.1 ± 0.031. The bootstrap's ends must land within ±0.01 of
    # that (its own Monte Carlo error with 2,000 resamples is about ±0.002).
    rng = np.random.default_rng(3)
    d = np.where(rng.random(4000) < 0.55, 1.0, -1.0)
    gap = paired_bootstrap(d, np.zeros_like(d), resamples=2000, seed=1)
    half = 1.96 * d.std() / np.sqrt(len(d))
    assert gap.mean == pytest.approx(d.mean())
    assert abs(gap.low - (d.mean() - half)) < 0.01 and abs(gap.high - (d.mean() + half)) < 0.01
    assert gap.verdict == "win"


def test_pairing_matters_and_the_seed_reproduces():
    # users differ a lot from one another, the two tokenizers barely: spreads over users would call it a
    # tie, the paired differences (all +0.01) cannot
    rng = np.random.default_rng(5)
    base = rng.random(300) * 10
    assert paired_bootstrap(base + 0.01, base, resamples=500, seed=2).verdict == "win"
    noisy = base + rng.normal(0, 1, 300)
    assert paired_bootstrap(noisy, base, seed=4) == paired_bootstrap(noisy, base, seed=4)
    assert paired_bootstrap(noisy, base, seed=4).low != paired_bootstrap(noisy, base, seed=5).low


@pytest.mark.parametrize("a, b, message", [
    (np.zeros(3), np.zeros(4), "shapes (3,) and (4,)"),
    (np.zeros(0), np.zeros(0), "no users"),
    (np.array([0.0, np.nan]), np.zeros(2), "NaN or inf"),
])
def test_bad_input_is_one_line(a, b, message):
    with pytest.raises(SidkitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        paired_bootstrap(a, b)
