"""Method ``adasid`` (AdaSID): RQ-VAE + contrastive collaborative term + adaptive overlap regulation.

Trained on pair batches like QuaSID. Loss = reconstruction + codebook + commitment
+ λ_col(τ)·adaptive_overlap + λ_cf(τ)·contrastive, with τ the progress between ``par_start`` and
``par_end`` (fractions of ``steps``; our choice: 0.1 and 0.6). λ_cf multiplies the contrastive term's own
weight (0.1, as in QuaSID), so at the end of the window the collaborative term matches QuaSID's.

Ablations: ``cvpm=False`` (overlaps of mined positives and repeated items are repelled too), ``sear=False`` (no pair is relaxed), ``las=False`` (every pair weighs 1), ``par=False``
(constant λ_col = 1, λ_cf = λ_cf_max). Every constant of the overlap term is in ``objective_params``
under ``adaptive_overlap`` (see objectives/adaptive_overlap.py for the defaults, all our choices).
"""

from __future__ import annotations

from typing import Any

from sidkit.methods.rqvae import RQVAE
from sidkit.objectives import Objective
from sidkit.objectives.progress_schedule import ProgressSchedule, Scheduled
from sidkit.params import between


class AdaSID(RQVAE):
    method = "adasid"
    fixed_params = ("objectives",)  # always contrastive + adaptive_overlap
    param_help = {"sear": "without semantic-adaptive relaxation", "las": "without load-adaptive strengthening",
                  "par": "without progress-adaptive rebalancing",
                  "cvpm": "overlaps of mined positives and repeated items repelled too"}
    constraints = {"par_start": between(0, 1), "par_end": between(0, 1)}

    def __init__(self, sear: bool = True, las: bool = True, par: bool = True, cvpm: bool = True, par_start: float = 0.1,
                 par_end: float = 0.6, lambda_col_min: float = 0.1, lambda_cf_max: float = 1.0,
                 use_pairs: bool = True, **params: Any) -> None:
        super().__init__(use_pairs=use_pairs, **params)
        self.sear = sear
        self.las = las
        self.par = par
        self.cvpm = cvpm
        self.par_start = par_start
        self.par_end = par_end
        self.lambda_col_min = lambda_col_min
        self.lambda_cf_max = lambda_cf_max

    def objective_names(self) -> list[str]:
        return ["contrastive", "adaptive_overlap"]

    def objective_specs(self) -> dict[str, dict[str, Any]]:
        specs = super().objective_specs()
        specs["adaptive_overlap"] = {"sear": self.sear, "las": self.las, "cvpm": self.cvpm,
                                     **specs["adaptive_overlap"]}
        return specs

    def schedule(self) -> ProgressSchedule:
        return ProgressSchedule(round(self.par_start * self.steps), round(self.par_end * self.steps),
                                self.lambda_col_min, self.lambda_cf_max)

    def build_objectives(self) -> list[Objective]:
        sched = self.schedule()
        col, cf = (sched.col, sched.cf) if self.par else ((lambda step: 1.0), (lambda step: self.lambda_cf_max))
        return [Scheduled(o, cf, "lambda_cf") if o.name == "contrastive" else Scheduled(o, col, "lambda_col")
                for o in super().build_objectives()]
