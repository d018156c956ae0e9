"""Method ``quasid`` (QuaSID): RQ-VAE + dual-tower contrastive + Hamming-guided margin repulsion with CVPM.

Trained on pair batches (B triggers, then their B targets). Loss = reconstruction + codebook +
commitment + contrastive (τ 0.07, weight 0.1) + HaMR (full: margin 0.8, weight 0.2; partial, R = 1:
margin 0.5, weight 0.1), every value from METHODS.md and overridable through ``objective_params``.

Ablations: ``contrastive=False``, ``hamr=False``, ``cvpm=False`` (HaMR then repels every other row,
mined positives and repeated items included). With all three off it is RQ-VAE on pair batches.
"""

from __future__ import annotations

from typing import Any

from sidkit.methods.rqvae import RQVAE


class QuaSID(RQVAE):
    method = "quasid"
    fixed_params = ("objectives",)  # derived from the switches
    param_help = {"contrastive": "without the dual-tower contrastive term",
                  "hamr": "without Hamming-guided margin repulsion",
                  "cvpm": "HaMR without the conflict-aware valid pair mask"}

    def __init__(self, contrastive: bool = True, hamr: bool = True, cvpm: bool = True, use_pairs: bool = True,
                 **params: Any) -> None:
        super().__init__(use_pairs=use_pairs, **params)
        self.contrastive = contrastive
        self.hamr = hamr
        self.cvpm = cvpm

    def objective_names(self) -> list[str]:
        return [name for name, on in (("contrastive", self.contrastive), ("hamr", self.hamr)) if on]

    def objective_specs(self) -> dict[str, dict[str, Any]]:
        specs = super().objective_specs()
        if "hamr" in specs:
            specs["hamr"] = {"cvpm": self.cvpm, **specs["hamr"]}
        return specs
