"""``select="collisions"``: keep the training step whose codes collide least on the whole catalogue.

The RQ-VAE family's loss does not measure collisions, and the last step is not the one with the fewest
(BENCHMARKS.md: colliding pairs per batch rise again late in training). Every ``every`` steps (and at
the last), from step ``start`` on, the catalogue is encoded with the current network; the weights of
the step with the lowest collision rate are kept (ties: the earlier step) and put back after training.
Collisions are lowest early, before the network has learnt much (BENCHMARKS.md), so ``start`` (a
warm-up) keeps the choice among trained networks. The cost is one encode
of the catalogue per check. On resume the selection starts again from the resumed step.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from torch import nn

from sidkit.sids.quality import collision_rate


class CollisionSelection:
    """``after_step`` callback of the step loop; ``restore()`` after training. ``history``: (step, rate)."""

    def __init__(self, net: nn.Module, encode: Callable[[], np.ndarray], every: int, steps: int,
                 start: int = 0) -> None:
        self.net, self.encode, self.every, self.steps, self.start = net, encode, every, steps, start
        self.best_rate, self.best_step, self.best_state = float("inf"), 0, None
        self.history: list[tuple[int, float]] = []

    def __call__(self, step: int) -> None:
        if ((step + 1) % self.every and step + 1 != self.steps) or step + 1 < min(self.start, self.steps):
            return
        was_training = self.net.training
        self.net.eval()
        rate = collision_rate(self.encode())
        self.net.train(was_training)
        self.history.append((step + 1, rate))
        if rate < self.best_rate:
            self.best_rate, self.best_step = rate, step + 1
            self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def restore(self) -> None:
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)
        self.net.eval()
