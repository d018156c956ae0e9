"""AdaSID's progress-adaptive rebalancing (PAR): loss weights that move with training progress.

    τ = clip((t − T_start) / (T_end − T_start), 0, 1)
    λ_col(τ) = 1 − (1 − λ_col_min)·τ        collision term: strong early, relaxed later
    λ_cf(τ)  = λ_cf_max·τ                   collaborative term: off early, full later

``Scheduled`` multiplies every loss term of any objective by such a weight, so the schedule composes
with objectives that know nothing about it.
"""

from __future__ import annotations

from typing import Callable

import torch

from sidkit.objectives.base import Batch, Objective


class ProgressSchedule:
    def __init__(self, t_start: int, t_end: int, lambda_col_min: float = 0.1, lambda_cf_max: float = 1.0) -> None:
        self.t_start, self.t_end = t_start, max(t_end, t_start + 1)
        self.lambda_col_min, self.lambda_cf_max = lambda_col_min, lambda_cf_max

    def progress(self, step: int) -> float:
        return min(max((step - self.t_start) / (self.t_end - self.t_start), 0.0), 1.0)

    def col(self, step: int) -> float:
        return 1 - (1 - self.lambda_col_min) * self.progress(step)

    def cf(self, step: int) -> float:
        return self.lambda_cf_max * self.progress(step)


class Scheduled(Objective):
    """``objective`` with its loss terms multiplied by ``weight(step)``; counts are passed through."""

    needs_pairs = False

    def __init__(self, objective: Objective, weight: Callable[[int], float], label: str) -> None:
        self.objective, self.weight, self.label = objective, weight, label
        self.name = objective.name
        self.needs_pairs = objective.needs_pairs

    def __call__(self, batch: Batch, z: torch.Tensor, z_q: torch.Tensor, codes: torch.Tensor,
                 step: int) -> dict[str, torch.Tensor]:
        w = self.weight(step)
        terms = {k: v if k.startswith("n_") else w * v for k, v in self.objective(batch, z, z_q, codes, step).items()}
        terms[f"n_{self.label}"] = torch.tensor(w)  # the schedule itself is logged
        return terms
