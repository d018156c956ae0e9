"""DAS's multi-view dual alignment (MDAM): six InfoNCE views between the quantized user and item
embeddings ẑ_u, ẑ_i and the debiased CF parts (interest c_u, content c_i) of the same clicks.

    u2i_user   ẑ_u  ↔ content(i)      the user's SID predicts the clicked item's CF content
    u2i_item   interest(u) ↔ ẑ_i      the item's SID is predicted by the clicking user's CF interest
    u2u        ẑ_u  ↔ interest(u)     a user's SID and the same user's CF interest
    i2i        ẑ_i  ↔ content(i)      an item's SID and the same item's CF content
    co_user    ẑ_u  ↔ ẑ_u′            u′ another user who clicked the same item
    co_item    ẑ_i  ↔ ẑ_i′            i′ another item the same user clicked

Row b of a batch is one training click (users[b], items[b]). Every view reuses ``info_nce`` with ids,
so a column that is the same user or item as the answer (a repeated click, a user clicking two items of
the batch) leaves the denominator instead of being pushed away. Users and items share one id space
(items offset by ``n_users``) so the masks can tell them apart. Symmetric, τ = 0.1, each view weighted 1
and the sum by ``weight`` (0.5, METHODS.md): the temperature and the per-view weights are our choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sidkit.objectives.contrastive import info_nce

VIEWS = ("u2i_user", "u2i_item", "u2u", "i2i", "co_user", "co_item")


@dataclass
class DualBatch:
    users: torch.Tensor          # [B] user index of each click
    items: torch.Tensor          # [B] item index
    other_users: torch.Tensor    # [B] u′ (−1: none)
    other_items: torch.Tensor    # [B] i′ (−1: none)
    zq_user: torch.Tensor        # [B, d] ẑ of users[b]
    zq_item: torch.Tensor        # [B, d] ẑ of items[b]
    zq_other_user: torch.Tensor  # [B, d] ẑ of other_users[b] (any value where there is none)
    zq_other_item: torch.Tensor  # [B, d]
    interest: torch.Tensor       # [B, d] debiased CF part of users[b]
    content: torch.Tensor        # [B, d] debiased CF part of items[b]
    n_users: int


@dataclass
class View:
    anchor: torch.Tensor
    positive: torch.Tensor
    anchor_ids: torch.Tensor
    positive_ids: torch.Tensor


def view_pairs(b: DualBatch) -> dict[str, View]:
    """Each view's (anchor, positive) rows with their ids; co-occurrence views keep the rows that have a partner."""
    u, i = b.users, b.items + b.n_users
    has_u, has_i = b.other_users >= 0, b.other_items >= 0
    return {
        "u2i_user": View(b.zq_user, b.content, u, i),
        "u2i_item": View(b.interest, b.zq_item, u, i),
        "u2u": View(b.zq_user, b.interest, u, u),
        "i2i": View(b.zq_item, b.content, i, i),
        "co_user": View(b.zq_user[has_u], b.zq_other_user[has_u], u[has_u], b.other_users[has_u]),
        "co_item": View(b.zq_item[has_i], b.zq_other_item[has_i], i[has_i], b.other_items[has_i] + b.n_users),
    }


class MultiViewAlignment:
    def __init__(self, views: tuple[str, ...] = VIEWS, temperature: float = 0.1, weight: float = 0.5) -> None:
        unknown = [v for v in views if v not in VIEWS]
        if unknown:
            raise ValueError(f"unknown view {unknown[0]!r}; expected some of {', '.join(VIEWS)}")
        self.views, self.temperature, self.weight = tuple(views), temperature, weight

    def __call__(self, batch: DualBatch) -> dict[str, torch.Tensor]:
        out = {}
        for name, v in view_pairs(batch).items():
            if name in self.views and len(v.anchor) >= 2:
                # same_anchor: another row of the same user (or item) is one of this anchor's positives too
                loss = info_nce(v.anchor, v.positive, v.anchor_ids, v.positive_ids, self.temperature,
                                symmetric=True, same_anchor=True)
                out[f"align_{name}"] = self.weight * loss
        return out
