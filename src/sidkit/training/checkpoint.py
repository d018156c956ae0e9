"""Training checkpoints as one safetensors file: tensors (network + optimizer state) and a JSON header.

No pickle (torch.save would pickle the optimizer state), so a checkpoint from elsewhere cannot run code
when loaded. The file is replaced atomically, so an interruption while saving keeps the previous one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sidkit.atomic import write_file
from sidkit.errors import SidkitError

CHECKPOINT = "checkpoint.safetensors"


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, plain = {}, {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"opt.{idx}.{key}"] = value.detach().clone().contiguous()
            else:
                plain[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "plain": plain}


def save_checkpoint(directory: str | Path, net: torch.nn.Module, opt: torch.optim.Optimizer, step: int,
                    log: list[dict[str, float]], config: dict[str, Any]) -> Path:
    tensors = {f"net.{k}": v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    opt_tensors, opt_meta = _optimizer_tensors(opt)
    tensors.update(opt_tensors)
    meta = {"step": str(step), "log": json.dumps(log), "config": json.dumps(config), "optimizer": json.dumps(opt_meta)}
    path = Path(directory) / CHECKPOINT
    return write_file(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load_checkpoint(directory: str | Path, net: torch.nn.Module, opt: torch.optim.Optimizer,
                    config: dict[str, Any]) -> tuple[int, list[dict[str, float]]]:
    """Restore ``net`` and ``opt`` in place; return (step, log) of the checkpoint. Its parameters are
    checked against ``config`` first, so another run's shapes are a one-line error, not a size mismatch."""
    path = Path(directory) / CHECKPOINT
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
        step, log, saved_config = int(meta["step"]), json.loads(meta["log"]), json.loads(meta["config"])
        opt_meta = json.loads(meta["optimizer"])
    except FileNotFoundError:
        raise SidkitError(f"{path}: no such file; expected a checkpoint to resume from") from None
    except Exception as e:  # safetensors raises its own type for a corrupt header
        raise SidkitError(f"{path}: not a sidkit checkpoint ({type(e).__name__})") from None
    check_resumable(saved_config, config, directory)
    try:
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    except RuntimeError:
        raise SidkitError(f"{path}: its tensors do not fit this model; expected the checkpoint of the same run, "
                          "or a new --checkpoint-dir") from None
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("opt."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in opt_meta["plain"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": opt_meta["param_groups"]})
    return step, log


def check_resumable(saved: dict[str, Any], config: dict[str, Any], directory: str | Path) -> None:
    """A checkpoint may only be resumed by the run that wrote it (``steps`` may grow)."""
    differ = sorted(k for k in set(saved) | set(config) if k != "steps" and saved.get(k) != config.get(k))
    if differ:
        raise SidkitError(f"{Path(directory)}: checkpoint was written with other parameters "
                          f"({', '.join(differ)}); expected the same run, or a new --checkpoint-dir")


def has_checkpoint(directory: str | Path | None) -> bool:
    return directory is not None and (Path(directory) / CHECKPOINT).is_file()
