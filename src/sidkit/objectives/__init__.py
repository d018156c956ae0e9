"""Training objectives, one per file, each a plug-in with the contract of ``objectives.base``."""

from sidkit.objectives.adaptive_overlap import AdaptiveOverlap
from sidkit.objectives.base import Batch, Objective, loss_total
from sidkit.objectives.contrastive import PairContrastive, false_negative_mask, info_nce
from sidkit.objectives.hamming_repulsion import HammingRepulsion, hamming_distance
from sidkit.objectives.reconstruction import reconstruction_loss
from sidkit.objectives.valid_pair_mask import valid_pair_mask

OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (PairContrastive, HammingRepulsion, AdaptiveOverlap)}

__all__ = ["OBJECTIVES", "AdaptiveOverlap", "Batch", "HammingRepulsion", "Objective", "PairContrastive", "false_negative_mask",
           "hamming_distance", "info_nce", "loss_total", "reconstruction_loss", "valid_pair_mask"]
