"""LETTER's collaborative regularisation: the quantized vector ẑ of an item should pick out its own CF
embedding among the CF embeddings of the other items in the batch (in-batch InfoNCE).

The CF embeddings are item factors fitted on the training clicks only (collab/item_factors.py: ``cooc``,
the SVD of co-click PMI, or ``bpr``), with the code dimension, so ẑ is compared with them directly.
LETTER uses a SASRec's item embeddings; ours are the factors sidkit already has, a choice written down.
ẑ carries the gradient to the encoder only (straight-through), as in LETTER: the codewords learn where
items go from the codebook loss, and the encoder learns to put co-clicked items near each other.

Items without factors (no training clicks) take no part, as anchors or as negatives. A row whose item
appears again in the batch is not a negative of it.

Constants, all written down: weight 0.01 (LETTER's α for its tokenizer script; method letter uses 0.1,
methods/letter.py says why), cosine similarity over
τ = 0.1 instead of LETTER's raw dot product (our factors' scale is arbitrary, and ẑ's drifts while it
trains, so a raw dot product would make the effective temperature change under the loss), one
direction (ẑ → factors), as LETTER.
"""

from __future__ import annotations

import torch

from sidkit.collab.item_factors import KINDS, item_factors
from sidkit.objectives.base import Batch, Objective, TrainingContext
from sidkit.objectives.contrastive import info_nce


class CFAlignment(Objective):
    name = "cf_alignment"
    needs_interactions = True

    def __init__(self, weight: float = 0.01, temperature: float = 0.1, kind: str = "cooc") -> None:
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}; expected one of {', '.join(KINDS)}")
        if temperature <= 0:
            raise ValueError(f"temperature {temperature}; expected a positive number")
        self.weight = weight
        self.temperature = temperature
        self.kind = kind

    def start(self, context: TrainingContext) -> None:
        if context.interactions is None:
            raise ValueError("cf_alignment needs the training interactions (item factors are fitted on them)")
        dim = context.net.quantizer.dim
        factors, warm = item_factors(context.interactions, self.kind, dim, context.seed)
        self._factors = torch.from_numpy(factors)
        self._warm = torch.from_numpy(warm)

    def __call__(self, batch: Batch, z: torch.Tensor, z_q: torch.Tensor, codes: torch.Tensor,
                 step: int) -> dict[str, torch.Tensor]:
        if not hasattr(self, "_factors"):
            raise ValueError("cf_alignment was not started; expected start(context) with the training clicks")
        keep = self._warm[batch.items]
        items = batch.items[keep]
        if len(items) < 2:  # nothing to contrast against
            return {"cf_alignment": z_q.sum() * 0.0, "n_cf_rows": torch.tensor(float(len(items)))}
        loss = info_nce(z_q[keep], self._factors[items], items, items, self.temperature, symmetric=False)
        return {"cf_alignment": self.weight * loss, "n_cf_rows": torch.tensor(float(len(items)))}
