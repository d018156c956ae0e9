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

    def __init__(self, contrastive: bool = True, hamr: bool = True, cvpm: bool = True, **params: Any) -> None:
        params.setdefault("use_pairs", True)
        super().__init__(**params)
        self.contrastive = contrastive
        self.hamr = hamr
        self.cvpm = cvpm
        self.objectives = [name for name, on in (("contrastive", contrastive), ("hamr", hamr)) if on]
        if hamr:
            self.objective_params["hamr"] = {"cvpm": cvpm, **self.objective_params.get("hamr", {})}

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        del params["objectives"]  # derived from the switches
        return params
