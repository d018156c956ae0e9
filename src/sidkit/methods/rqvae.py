"""Method ``rqvae``: the RQ-VAE tokenizer of TIGER, the core that QuaSID, AdaSID and DAS build on.

Defaults (METHODS.md, TIGER): encoder 384 → 512 → 256 → 128 → 32, 3 levels × 256 codes of dim 32,
β = 0.25, straight-through gradient (``gradient="rotation"`` for the rotation trick), codebooks from
residual k-means on the encoder outputs of every item before the first step, dead codes restarted
every 100 steps. Choices of ours, written down: AdamW at 1e-3 with no weight decay, a fixed budget of
optimizer ``steps`` (not epochs, so methods with pair batches and item batches get the same budget),
1024 rows a step.

Plug-in objectives (``objectives``: names from ``sidkit.objectives.OBJECTIVES``, ``objective_params``:
{name: {param: value}}) attach here, so ``rqvae`` + ``hamr`` is QuaSID's repulsion on plain TIGER.
Batches are pair batches when an objective needs pairs (or ``use_pairs``), else uniform item batches.

``balance_levels=n`` (``--balance-levels``; quasid, adasid and das have it too): after training, the last
n levels get Sinkhorn prices from the catalogue's residuals (LC-Rec's uniform mapping of the last level,
quantize/sinkhorn.py), so their codes spread evenly; ``encode`` and ``candidates`` use the same prices.
Training is unchanged: the option only moves items between codes of the balanced levels.

``select="collisions"`` (``--select collisions``): every ``select_every`` steps from ``select_from`` on, the
catalogue is encoded and the weights of the step with the fewest colliding items are kept
(methods/collision_selection.py); ``selected_step_`` says which. The default ``last`` keeps the last step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.pair_batches import BatchPlan
from sidkit.data.embedding_matrix import as_matrix
from sidkit.data.types import Interactions
from sidkit.errors import SidkitError
from sidkit.methods.base import Tokenizer
from sidkit.methods.collision_selection import CollisionSelection
from sidkit.methods.rqvae_network import RQVAENetwork
from sidkit.methods.train_loop import train
from sidkit.objectives import OBJECTIVES, Objective
from sidkit.objectives.base import TrainingContext
from sidkit.params import at_least, check_params, one_of, positive
from sidkit.quantize.gradient_estimators import GRADIENT_ESTIMATORS
from sidkit.training.checkpoint import has_checkpoint


class RQVAE(Tokenizer):
    method = "rqvae"
    constraints = {"gradient": one_of(GRADIENT_ESTIMATORS), "steps": at_least(1), "batch_size": at_least(4),
                   "restart_every": at_least(1), "checkpoint_every": at_least(1), "lr": positive,
                   "dim": at_least(1), "beta": at_least(0), "weight_decay": at_least(0),
                   "balance_levels": at_least(0), "balance_epsilon": positive, "select": one_of(("last", "collisions")),
                   "select_every": at_least(1), "select_from": at_least(0)}

    def __init__(self, levels: int = 3, codebook_size: int = 256, dim: int = 32,
                 hidden: tuple[int, ...] = (512, 256, 128), beta: float = 0.25, gradient: str = "ste",
                 steps: int = 3000, batch_size: int = 1024, lr: float = 1e-3, weight_decay: float = 0.0,
                 restart_every: int = 100, kmeans_init: bool = True, objectives: tuple[str, ...] = (),
                 objective_params: dict[str, dict[str, Any]] | None = None, use_pairs: bool = False,
                 checkpoint_every: int = 500, balance_levels: int = 0, balance_epsilon: float = 0.05,
                 select: str = "last", select_every: int = 250, select_from: int = 0, seed: int = 0) -> None:
        self.levels = levels
        self.codebook_size = codebook_size
        self.dim = dim
        self.hidden = list(hidden)
        self.beta = beta
        self.gradient = gradient
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.restart_every = restart_every
        self.kmeans_init = kmeans_init
        self.objectives = list(objectives)
        self.objective_params = dict(objective_params or {})
        self.use_pairs = use_pairs
        self.checkpoint_every = checkpoint_every
        self.balance_levels = balance_levels
        self.balance_epsilon = balance_epsilon
        self.select = select
        self.select_every = select_every
        self.select_from = select_from
        self.seed = seed

    def objective_names(self) -> list[str]:
        """The plug-ins in use; methods that fix theirs (quasid, adasid) derive them from their switches."""
        return list(self.objectives)

    def objective_specs(self) -> dict[str, dict[str, Any]]:
        """{objective name: its parameters}: what ``build_objectives`` makes."""
        names = self.objective_names()
        unknown = set(self.objective_params) - set(names)
        if unknown:
            raise SidkitError(f"parameters given for objectives not in use: {', '.join(sorted(unknown))}")
        return {name: dict(self.objective_params.get(name, {})) for name in names}

    def build_objectives(self) -> list[Objective]:
        """The plug-in objectives, after checking every parameter (so a bad value fails before any work)."""
        self.check_params()
        out = []
        for name, params in self.objective_specs().items():
            if name not in OBJECTIVES:
                raise SidkitError(f"unknown objective {name!r}; expected one of {', '.join(OBJECTIVES)}")
            check_params(f"objective {name!r}", OBJECTIVES[name], params)
            try:
                out.append(OBJECTIVES[name](**params))
            except ValueError as e:
                raise SidkitError(f"objective {name!r}: {e}") from None
        return out

    @property
    def needs_pairs(self) -> bool:  # type: ignore[override]
        return self.use_pairs or any(OBJECTIVES[n].needs_pairs for n in self.objective_specs() if n in OBJECTIVES)

    @property
    def needs_interactions(self) -> bool:  # type: ignore[override]
        return any(OBJECTIVES[n].needs_interactions for n in self.objective_specs() if n in OBJECTIVES)

    def _network(self, d_in: int, codebook_size: int | None = None) -> RQVAENetwork:
        return RQVAENetwork(d_in, self.hidden, self.dim, self.levels, codebook_size or self.codebook_size, self.beta,
                            self.gradient)

    def fit(self, x: np.ndarray, pairs: ItemPairs | None = None, *, interactions: Interactions | None = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False, progress: bool = True) -> "RQVAE":
        """``interactions``: the training clicks, for objectives that learn from them (``needs_interactions``)."""
        x = as_matrix(x)
        objectives = self.build_objectives()
        if self.needs_pairs and pairs is None:
            raise SidkitError(f"{self.method} with objectives {list(self.objective_specs())} needs item pairs mined from "
                              "interactions")
        if self.needs_interactions and interactions is None:
            raise SidkitError(f"{self.method} with objectives {list(self.objective_specs())} needs the training "
                              "interactions")
        if interactions is not None and interactions.n_items != len(x):
            raise SidkitError(f"{self.method}: {len(x)} items given for interactions over {interactions.n_items} items; "
                              "expected the same")
        if self.codebook_size > len(x):
            raise SidkitError(f"codebook size {self.codebook_size} is larger than the {len(x)} items; "
                              f"expected at most {len(x)}")
        plan = BatchPlan(len(x), pairs if self.needs_pairs else None, self.batch_size, self.seed)
        torch.manual_seed(self.seed)
        self.net_ = self._network(x.shape[1])
        config = {"method": self.method, **self.get_params()}
        if self.kmeans_init and not (resume and has_checkpoint(checkpoint_dir)):
            init_codebooks(self.net_, x, self.seed)
        context = TrainingContext(self.net_, interactions, self.seed)
        for objective in objectives:
            try:
                objective.start(context)
            except ValueError as e:
                raise SidkitError(f"{self.method}: objective {objective.name!r}: {e}") from None
        selection = (CollisionSelection(self.net_, lambda: encode_with(self.net_, x), self.select_every, self.steps,
                                        self.select_from) if self.select == "collisions" else None)
        self.training_log_ = train(
            self.net_, objectives, x, plan, steps=self.steps, lr=self.lr, weight_decay=self.weight_decay,
            restart_every=self.restart_every, seed=self.seed, config=config, checkpoint_dir=checkpoint_dir,
            checkpoint_every=self.checkpoint_every, resume=resume, progress=progress, after_step=selection)
        if selection is not None:
            selection.restore()
            self.selected_step_, self.selection_history_ = selection.best_step, selection.history
        balance_after_training(self.net_, x, self.balance_levels, self.balance_epsilon)
        self.labels_ = self.encode(x)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Encoder outputs z (the continuous latent the codes quantize)."""
        with torch.no_grad():
            return self.net_.encoder(torch.from_numpy(as_matrix(x))).numpy()

    def encode(self, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        return encode_with(self.net_, x, batch_size)

    def candidates(self, x: np.ndarray, k: int, batch_size: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        xt = torch.from_numpy(as_matrix(x))
        with torch.inference_mode():
            parts = [self.net_.quantizer.candidates(self.net_.encoder(xt[s:s + batch_size]), k)
                     for s in range(0, len(xt), batch_size)]
        return torch.cat([p[0] for p in parts]).numpy(), torch.cat([p[1] for p in parts]).numpy()

    def decode(self, codes: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """x̂ = decoder(Σ_l codeword_l): the network's reconstruction from the codes alone."""
        ct = torch.from_numpy(np.asarray(codes, dtype=np.int64))
        with torch.inference_mode():
            return torch.cat([self.net_.decoder(self.net_.quantizer.decode(ct[s:s + batch_size]))
                              for s in range(0, len(ct), batch_size)]).numpy()

    def _tensors(self) -> dict[str, np.ndarray]:
        return network_tensors(self.net_)

    def _restore(self, tensors: dict[str, np.ndarray]) -> None:
        self.net_ = restored(self._network(tensors["encoder.0.weight"].shape[1]), tensors)


def balance_after_training(net: RQVAENetwork, x: np.ndarray, n_levels: int, epsilon: float) -> None:
    """Sinkhorn prices for the last ``n_levels`` levels from the catalogue's residuals (0: none)."""
    levels = net.quantizer.levels
    if not 0 <= n_levels <= levels:
        raise SidkitError(f"balance_levels={n_levels}; expected 0..{levels} (how many of the last levels to balance)")
    if n_levels:
        with torch.no_grad():
            z = torch.cat([net.encoder(torch.from_numpy(x[s:s + 65536])) for s in range(0, len(x), 65536)])
        net.quantizer.balance(z, list(range(levels - n_levels, levels)), epsilon)


def encode_with(net: RQVAENetwork, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """Codes [N, L] of rows ``x`` through a trained network (frozen), in batches."""
    xt = torch.from_numpy(as_matrix(x))
    with torch.inference_mode():
        return torch.cat([net.quantizer.encode(net.encoder(xt[s:s + batch_size]))
                          for s in range(0, len(xt), batch_size)]).numpy()


def init_codebooks(net: RQVAENetwork, x: np.ndarray, seed: int) -> None:
    """Codebooks from residual k-means on the untrained encoder's outputs of every row of ``x``."""
    with torch.no_grad():
        z = net.encoder(torch.from_numpy(x)).numpy()
    net.quantizer.init_from(z, seed=seed)


def network_tensors(net: RQVAENetwork, prefix: str = "") -> dict[str, np.ndarray]:
    """The weights to save (usage counts are training state, not saved) and the balanced levels' code
    prices, names prefixed."""
    out = {prefix + k: v.detach().numpy() for k, v in net.state_dict().items() if k != "quantizer.usage"}
    out.update({f"{prefix}prices.{level}": p for level, p in net.quantizer.prices.items()})
    return out


def restored(net: RQVAENetwork, tensors: dict[str, np.ndarray]) -> RQVAENetwork:
    """``net`` with saved weights (usage counts are training state, not saved), in eval mode."""
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if not k.startswith("prices.")}
    state["quantizer.usage"] = torch.zeros_like(net.quantizer.usage)
    net.load_state_dict(state)
    net.quantizer.prices = {int(k.split(".")[1]): v.astype(np.float64) for k, v in tensors.items()
                            if k.startswith("prices.")}
    return net.eval()
