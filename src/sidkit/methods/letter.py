"""Method ``letter`` (LETTER, Wang et al. 2024): RQ-VAE + collaborative + diversity regularisation.

Loss = reconstruction + codebook + commitment (semantic regularisation, as ``rqvae``)
     + collab_weight · InfoNCE(ẑ, the item's CF embedding)      objectives/cf_alignment.py
     + diversity_weight · CE(codeword → a codeword of its cluster)   objectives/code_diversity.py

Item batches, as ``rqvae``: LETTER aligns each item with its own CF embedding and needs no mined pairs,
only the training clicks the CF embeddings are fitted on (``needs_interactions``).

Every constant we had to choose, written down (the objectives' files say why):
- CF embeddings: sidkit's own item factors with the code dimension (``collab_kind``: ``cooc``, the SVD of
  co-click PMI, default; or ``bpr``), not a SASRec's; items without training clicks left out of the term.
- collab_weight 0.1, ten times LETTER's α: at LETTER's 0.01 the codes were `rqvae`'s within noise on
  scientific and Beauty (3 seeds; BENCHMARKS.md), at 0.1 collisions fell on both and Beauty's level-1
  agreement rose by 43% (our CF term is a cosine InfoNCE, so LETTER's α does not carry over anyway).
- diversity_weight 1e-4 (LETTER's β), 10 clusters a level (LETTER's), cosine
  similarity over τ = 0.1 for the CF term (LETTER: raw dot product), reclustering every 10 steps.
- ``select="collisions"`` by default: LETTER keeps the checkpoint with the fewest colliding items, and
  so do we (every ``select_every`` steps; methods/collision_selection.py), from step 1,500 on
  (``select_from``, half the default budget): from step 0 the fewest collisions are at the first check,
  an untrained network (BENCHMARKS.md, "RQ-VAE with --select collisions").
- The rest is ``rqvae``'s: 3 × 256 codes of dim 32, β = 0.25, k-means initialisation, dead-code restarts,
  AdamW 1e-3, 3,000 steps of 1,024 rows. LETTER's training-time Sinkhorn on the last level is
  ``--balance-levels 1`` here (applied after training).

Ablations: ``collab=False`` (no collaborative term), ``diversity=False``; with both off it is ``rqvae`` with
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
    param_help = {"collab": "without the collaborative (CF alignment) term",
                  "diversity": "without the diversity term",
                  "collab_kind": "item factors the quantized vectors align with"}
    constraints = {"collab_weight": at_least(0), "diversity_weight": at_least(0), "collab_kind": one_of(KINDS)}

    def __init__(self, collab: bool = True, diversity: bool = True, collab_weight: float = 0.1,
                 diversity_weight: float = 1e-4, collab_kind: str = "cooc", select: str = "collisions",
                 select_from: int = 1500, **params: Any) -> None:
        super().__init__(select=select, select_from=select_from, **params)
        self.collab = collab
        self.diversity = diversity
        self.collab_weight = collab_weight
        self.diversity_weight = diversity_weight
        self.collab_kind = collab_kind

    def objective_names(self) -> list[str]:
        return [name for name, on in (("cf_alignment", self.collab), ("code_diversity", self.diversity)) if on]

    def objective_specs(self) -> dict[str, dict[str, Any]]:
        specs = super().objective_specs()
        if "cf_alignment" in specs:
            specs["cf_alignment"] = {"weight": self.collab_weight, "kind": self.collab_kind, **specs["cf_alignment"]}
        if "code_diversity" in specs:
            specs["code_diversity"] = {"weight": self.diversity_weight, **specs["code_diversity"]}
        return specs
