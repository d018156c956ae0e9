"""The contract every plug-in objective follows, so any of them attaches to any gradient-trained tokenizer.

    terms = objective(batch, z, z_q, codes, step)     # dict of named scalar tensors

``z`` is the encoder output [R, D], ``z_q`` the quantized vector [R, D], ``codes`` [R, L] the current
codes, ``step`` the optimizer step (for schedules). Every returned term is already weighted and is
added to the training loss, except names starting with ``n_``: those are counts, logged, not summed.
Every term is logged per step.

An objective that needs more than the batch (the network's own codebooks, item factors from the
training clicks) gets it once, before the first step, through ``start(context)``; one that needs clicks
says so with ``needs_interactions`` and the tokenizer then asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from sidkit.data.types import Interactions


@dataclass
class Batch:
    """Rows of one training step.

    ``items`` are catalogue row numbers (so masks can tell two rows of the same item apart). In a pair
    batch the first ``n_pairs`` rows are triggers and the next ``n_pairs`` their targets: row i and row
    i + n_pairs are a mined positive pair. An item batch has ``n_pairs = 0``.
    """

    x: torch.Tensor
    items: torch.Tensor
    n_pairs: int = 0


@dataclass
class TrainingContext:
    """What a tokenizer hands its objectives before the first step (also after a resume)."""

    net: nn.Module                        # the network being trained (its ``quantizer`` holds the codebooks)
    interactions: Interactions | None     # the training clicks, for objectives with ``needs_interactions``
    seed: int


OBJECTIVES: dict[str, type["Objective"]] = {}  # filled as plug-in classes are defined


class Objective:
    """A plug-in: a subclass that sets ``name`` in its class body registers itself under it, and
    ``rqvae --objective NAME`` / ``objective_params={NAME: {...}}`` reach it with no other edit.
    Its constructor's parameters are its settings (``sidkit.params``: typed, ``constraints`` beyond)."""

    name: ClassVar[str]
    needs_pairs: ClassVar[bool] = False
    needs_interactions: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and isinstance(cls.__dict__["name"], str):
            OBJECTIVES[cls.name] = cls

    def params(self) -> dict[str, float | int | bool | str]:
        return dict(vars(self))

    def start(self, context: TrainingContext) -> None:
        """Before the first step: take what the batch does not carry (most objectives need nothing)."""

    def __call__(self, batch: Batch, z: torch.Tensor, z_q: torch.Tensor, codes: torch.Tensor,
                 step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def loss_total(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(v for k, v in terms.items() if not k.startswith("n_"))
