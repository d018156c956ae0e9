"""The optimizer-step loop every gradient-trained tokenizer runs, in one screen.

The caller gives ``step_terms(step) → (terms, state)``: the named loss terms of that step's batch (the
loss is their sum, less the ``n_`` counts) and whatever its callbacks need. This loop does the rest the
same way for every method: AdamW, resume from a checkpoint, a progress bar, one log entry per step
(every term, plus what ``extra(step, state)`` adds), a ``restart(step, state)`` every ``restart_every``
steps (dead codes), and a checkpoint every ``checkpoint_every`` steps and at the end.

Batches and restarts must depend only on (seed, step): then a resumed run ends with the weights of an
uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from sidkit.objectives.base import loss_total
from sidkit.training.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint

Terms = dict[str, torch.Tensor]


def train_steps(net: nn.Module, step_terms: Callable[[int], tuple[Terms, Any]], *, steps: int, lr: float,
                weight_decay: float, config: dict[str, Any], restart_every: int = 0,
                restart: Callable[[int, Any], dict[str, int]] | None = None,
                extra: Callable[[int, Any], dict[str, float]] | None = None, shown: tuple[str, ...] = ("loss",),
                checkpoint_dir: str | Path | None = None, checkpoint_every: int = 500, resume: bool = False,
                progress: bool = True, writer: bool = True,
                after_step: Callable[[int], None] | None = None) -> list[dict[str, float]]:
    """Train ``net`` for ``steps`` optimizer steps; returns the log (one dict per step). ``writer``: this
    process writes checkpoints and shows progress (rank 0 of a data-parallel job). ``after_step(step)``
    runs after each step's log entry (e.g. the collision selection)."""
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    start, log = 0, []
    if resume and has_checkpoint(checkpoint_dir):
        start, log = load_checkpoint(checkpoint_dir, net, opt, config)

    net.train()
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=f"training {config.get('method', '')}",
               disable=not progress or not writer, leave=False)
    for step in bar:
        terms, state = step_terms(step)
        loss = loss_total(terms)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        entry = {"step": step + 1, "loss": loss.item(), **{k: v.item() for k, v in terms.items()}}
        if extra is not None:
            entry.update(extra(step, state))
        if restart is not None and (step + 1) % restart_every == 0:
            entry.update(restart(step, state))
        log.append(entry)
        if after_step is not None:
            after_step(step)
        if step % 20 == 0:
            bar.set_postfix({k: round(entry[k], 4) for k in shown if k in entry})
        if checkpoint_dir is not None and writer and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            save_checkpoint(checkpoint_dir, net, opt, step + 1, log, config)
    net.eval()
    return log
