"""ICDM's debias terms: the bias branches learn the bias statistics, and stay orthogonal to the rest.

    popularity   ‖head(popularity_i) − pop(i)‖²        conformity  ‖head(conformity_u) − conf(u)‖²
    orthogonality  cos²(interest_u, conformity_u) + cos²(content_i, popularity_i)

Weights are ours (METHODS.md gives none): 1 each, inside L_cf's weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sidkit.collab.debiased_two_tower import Towers
from sidkit.objectives.orthogonality import orthogonality


def debias_terms(towers: Towers, item_popularity: torch.Tensor, user_conformity: torch.Tensor,
                 weight: float = 1.0, orthogonality_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Named, weighted terms; ``item_popularity`` [B] and ``user_conformity`` [B] are the rows' targets."""
    if towers.popularity is None:
        return {}
    return {
        "popularity": weight * F.mse_loss(towers.popularity_pred, item_popularity),
        "conformity": weight * F.mse_loss(towers.conformity_pred, user_conformity),
        "orthogonality": orthogonality_weight * (orthogonality(towers.interest, towers.conformity)
                                                 + orthogonality(towers.content, towers.popularity)),
    }
