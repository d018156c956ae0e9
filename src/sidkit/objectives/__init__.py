"""Training objectives, one per file, composable across tokenizers."""

from sidkit.objectives.contrastive import false_negative_mask, info_nce

__all__ = ["false_negative_mask", "info_nce"]
