"""Method ``das`` (DAS): one-stage dual-aligned semantic IDs for users and items.

Two RQ-VAEs (items over item content, users over user content: content/user_embeddings.py) train in
one stage with ICDM, an ID two-tower CF model with debias branches (collab/debiased_two_tower.py), and
six InfoNCE views tying the quantized ẑ_u, ẑ_i to each other and to the debiased CF parts
(objectives/multiview_alignment.py):

    L = L_sem(items) + L_sem(users) + cf_weight · (L_cf + L_debias) + align_weight · Σ views

with L_sem = reconstruction + codebook + commitment (as ``rqvae``), L_cf an in-batch InfoNCE between the
two towers on training clicks, cf_weight 1.0 and align_weight 0.5 (METHODS.md).

Choices of ours, written down: 3 × 256 codes of dim 32 for items (the paper reports 512; ours matches
the other methods so their SIDs compare), the user codebook the same size unless ``user_codebook_size``
says otherwise; the CF parts have the code dimension, so views compare like with like; τ = 0.1 for
the views and for L_cf; gradients of the views reach both the encoders and the CF model (one stage,
alignment both ways). Each step takes ``batch_size`` (512) training clicks, with a co-click partner
per click for the co-occurrence views, plus a uniform slice of ``batch_size`` / 2 catalogue items and
users for L_sem, so items and users nobody clicked in training are still reconstructed and get sensible codes.

Ablations: ``views`` (any subset of the six; ``sidkit fit das --no-view NAME``), ``debias=False``
(plain two-tower, no bias branches, no orthogonality; ``--no-debias``).

``user_content`` (auto, profile, history, profile+history) and ``half_life`` say how the users' content
is made (content/user_embeddings.py); ``fit`` takes it ready-made, and ``workflow.prepare`` and
``sidkit eval ranking --codes das`` make it from these two values and the training clicks only.

After ``fit``: ``labels_`` item codes, ``user_labels_`` user codes; ``encode(x)`` items,
``encode_users(x_u)`` users. A saved model holds both RQ-VAEs (the CF model is training-only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sidkit.collab.debiased_two_tower import DebiasedTwoTower
from sidkit.collab.item_pairs import ItemPairs
from sidkit.content.user_embeddings import SOURCES as USER_CONTENT
from sidkit.data.embedding_matrix import as_matrix
from sidkit.data.types import Interactions
from sidkit.errors import SidkitError
from sidkit.methods.das_train import DASNetwork, train_das
from sidkit.methods.rqvae import (RQVAE, balance_after_training, encode_with, init_codebooks, network_tensors,
                                  restored)
from sidkit.objectives.multiview_alignment import VIEWS
from sidkit.params import at_least, one_of, positive, some_of
from sidkit.training.checkpoint import has_checkpoint


class DAS(RQVAE):
    method = "das"
    needs_interactions = True
    needs_users = True
    needs_pairs = False
    fixed_params = ("objectives", "objective_params", "use_pairs")  # DAS's terms are not plug-ins
    param_help = {"views": "alignment views", "debias": "a plain two-tower CF model (no debias branches)",
                  "user_content": "how users' content is made"}
    constraints = {"views": some_of(VIEWS), "cf_weight": at_least(0), "align_weight": at_least(0),
                   "temperature": positive, "user_codebook_size": at_least(0), "user_content": one_of(USER_CONTENT),
                   "half_life": positive}

    def __init__(self, views: tuple[str, ...] = VIEWS, debias: bool = True, cf_weight: float = 1.0,
                 align_weight: float = 0.5, temperature: float = 0.1, user_codebook_size: int = 0,
                 user_content: str = "auto", half_life: float = 10.0, batch_size: int = 512, **params: Any) -> None:
        super().__init__(batch_size=batch_size, **params)  # batch_size: clicks a step; each RQ-VAE sees 2.5 × as many rows
        self.views = list(views)
        self.debias = debias
        self.cf_weight = cf_weight
        self.align_weight = align_weight
        self.temperature = temperature
        self.user_codebook_size = user_codebook_size
        self.user_content = user_content
        self.half_life = half_life

    @property
    def user_codebook_sizes(self) -> list[int]:
        return [self.user_codebook_size or self.codebook_size] * self.levels

    def build_objectives(self) -> list:
        self.check_params()
        return []  # DAS's terms are its own loop's (das_train.py), not plug-ins

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None, *, interactions: Interactions | None = None,
            user_x: np.ndarray | None = None, checkpoint_dir: str | Path | None = None, resume: bool = False,
            progress: bool = True) -> "DAS":
        """``interactions``: the training clicks (never the test period); ``user_x`` [n_users, d_u] the
        users' content embeddings in the order of ``interactions.user_ids``."""
        self.build_objectives()
        if self.select != "last":
            raise SidkitError(f"das: select={self.select!r}; expected 'last' (the collision selection runs on the "
                              "rqvae, quasid and adasid loop only)")
        if interactions is None or user_x is None:
            raise SidkitError("das needs the training interactions and the users' content embeddings")
        x, user_x = as_matrix(x), as_matrix(user_x)
        if len(user_x) != interactions.n_users or len(x) != interactions.n_items:
            raise SidkitError(f"das: {len(x)} items and {len(user_x)} users given for interactions over "
                              f"{interactions.n_items} items and {interactions.n_users} users; expected the same")
        if len(interactions) < 2:
            raise SidkitError("das needs at least 2 training clicks")
        for what, k, n in (("codebook size", self.codebook_size, len(x)),
                           ("user codebook size", self.user_codebook_sizes[0], len(user_x))):
            if k > n:
                raise SidkitError(f"das {what} {k} is larger than the {n} rows to quantize; expected at most {n}")
        torch.manual_seed(self.seed)
        # net_ is the item RQ-VAE, so encode/candidates/transform/save are rqvae's; the user RQ-VAE is beside it
        self.net_ = self._network(x.shape[1])
        self.user_net_ = self._network(user_x.shape[1], self.user_codebook_sizes[0])
        cf = DebiasedTwoTower(interactions.n_users, interactions.n_items, self.dim, self.debias)
        network = DASNetwork(self.net_, self.user_net_, cf)
        config = {"method": self.method, **self.get_params()}
        if self.kmeans_init and not (resume and has_checkpoint(checkpoint_dir)):
            init_codebooks(self.net_, x, self.seed)
            init_codebooks(self.user_net_, user_x, self.seed)
        self.training_log_ = train_das(
            network, x, user_x, interactions, views=tuple(self.views), steps=self.steps,
            batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            restart_every=self.restart_every, cf_weight=self.cf_weight, align_weight=self.align_weight,
            temperature=self.temperature, seed=self.seed, config=config, checkpoint_dir=checkpoint_dir,
            checkpoint_every=self.checkpoint_every, resume=resume, progress=progress)
        balance_after_training(self.net_, x, self.balance_levels, self.balance_epsilon)
        self.labels_ = self.encode(x)
        self.user_labels_ = self.encode_users(user_x)
        return self

    def encode_users(self, user_x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        return encode_with(self.user_net_, user_x, batch_size)

    def _tensors(self) -> dict[str, np.ndarray]:
        return {**super()._tensors(), **network_tensors(self.user_net_, "user.")}

    def _restore(self, tensors: dict[str, np.ndarray]) -> None:
        super()._restore({k: v for k, v in tensors.items() if not k.startswith("user.")})
        users = {k[len("user."):]: v for k, v in tensors.items() if k.startswith("user.")}
        self.user_net_ = restored(self._network(users["encoder.0.weight"].shape[1], self.user_codebook_sizes[0]), users)
