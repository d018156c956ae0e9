"""Method ``letter`` (LETTER, Wang et al. 2024): RQ-VAE + collaborative + diversity regularisation.

Loss = reconstruction + codebook + commitment (semantic regularisation, as ``rqvae``)
     + cf_weight · InfoNCE(ẑ, the item's CF embedding)      objectives/cf_alignment.py
     + diversity_weight · CE(codeword → a codeword of its cluster)   objectives/code_diversity.py

Item batches, as ``rqvae``: LETTER aligns each item with its own CF embedding and needs no mined pairs,
only the training clicks the CF embeddings are fitted on (``needs_interactions``).

Every constant we had to choose, written down (the objectives' files say why):
- CF embeddings: sidkit's own item factors with the code dimension (``cf_kind``: ``cooc``, the SVD of
  co-click PMI, default; or ``bpr``), not a SASRec's; items without training clicks left out of the term.
- cf_weight 0.01 and diversity_weight 1e-4 (LETTER's α and β), 10 clusters a level (LETTER's), cosine
  similarity over τ = 0.1 for the CF term (LETTER: raw dot product), reclustering every 10 steps.
- ``select="collisions"`` by default: LETTER keeps the checkpoint with the fewest colliding items, and
  so do we (every ``select_every`` steps; methods/collision_selection.py).
- The rest is ``rqvae``'s: 3 × 256 codes of dim 32, β = 0.25, k-means initialisation, dead-code restarts,
  AdamW 1e-3, 3,000 steps of 1,024 rows. LETTER's training-time Sinkhorn on the last level is
  ``--balance-levels 1`` here (applied after training).

Ablations: ``cf=False`` (no collaborative term), ``diversity=False``; with both off it is ``rqvae`` with
collision selection.
"""

from __future__ import annotations

from typing import Any

from sidkit.collab.item_factors import KINDS
from sidkit.methods.rqvae import RQVAE
from sidkit.params import at_least, one_of


class LETTER(RQVAE):
    method = "letter"
    fixed_params = ("objectives",)  # derived from the switches
    param_help = {"cf": "without the collaborative (CF alignment) term", "diversity": "without the diversity term",
                  "cf_kind": "item factors the quantized vectors align with"}
    constraints = {"cf_weight": at_least(0), "diversity_weight": at_least(0), "cf_kind": one_of(KINDS)}

    def __init__(self, cf: bool = True, diversity: bool = True, cf_weight: float = 0.01, diversity_weight: float = 1e-4,
                 cf_kind: str = "cooc", select: str = "collisions", **params: Any) -> None:
        super().__init__(select=select, **params)
        self.cf = cf
        self.diversity = diversity
        self.cf_weight = cf_weight
        self.diversity_weight = diversity_weight
        self.cf_kind = cf_kind

    def objective_names(self) -> list[str]:
        return [name for name, on in (("cf_alignment", self.cf), ("code_diversity", self.diversity)) if on]

    def objective_specs(self) -> dict[str, dict[str, Any]]:
        specs = super().objective_specs()
        if "cf_alignment" in specs:
            specs["cf_alignment"] = {"weight": self.cf_weight, "kind": self.cf_kind, **specs["cf_alignment"]}
        if "code_diversity" in specs:
            specs["code_diversity"] = {"weight": self.diversity_weight, **specs["code_diversity"]}
        return specs
