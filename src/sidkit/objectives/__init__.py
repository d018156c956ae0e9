"""Training objectives, one per file, each a plug-in with the contract of ``objectives.base``."""

from sidkit.objectives.adaptive_overlap import AdaptiveOverlap
from sidkit.objectives.base import OBJECTIVES, Batch, Objective, loss_total
from sidkit.objectives.contrastive import PairContrastive, false_negative_mask, info_nce
from sidkit.objectives.hamming_repulsion import HammingRepulsion, hamming_distance
from sidkit.objectives.reconstruction import reconstruction_loss
from sidkit.objectives.valid_pair_mask import valid_pair_mask
from sidkit.plugins import import_all

import_all("sidkit.objectives", "sidkit.objectives")  # every plug-in registers as its module is imported

__all__ = ["OBJECTIVES", "AdaptiveOverlap", "Batch", "HammingRepulsion", "Objective", "PairContrastive", "false_negative_mask",
           "hamming_distance", "info_nce", "loss_total", "reconstruction_loss", "valid_pair_mask"]
