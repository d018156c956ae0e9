"""One ranking evaluation end to end, over several seeds: samples → codes → one model per variant → metrics.

Each seed draws its own negatives, cold items, QARM fit and model initialisation, so the spread over
seeds is the spread a user re-running the evaluation would see. Variants of one seed share everything
but the model, so their differences are paired.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sidkit.content.item_embeddings import item_embeddings
from sidkit.content.text_encoder import TextEncoder
from sidkit.data.types import Dataset
from sidkit.downstream.ranking.protocol import VARIANTS, fitted_codes, run_variant, sid_folder_codes
from sidkit.downstream.ranking.samples import build_samples, histories
from sidkit.downstream.ranking.sid_features import SCHEMES
from sidkit.errors import SidkitError
from sidkit.params import check_params
from sidkit.workflow import pair_cache_dir


def check_variants(variants: list[str], item_ids: bool = True) -> None:
    if not variants:
        raise SidkitError("--variants is empty; expected e.g. baseline,vq+rq")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SidkitError(f"unknown variant {unknown[0]!r}; expected one of {', '.join(VARIANTS)}")
    if not item_ids and "baseline" in variants:
        raise SidkitError("--id-free drops the item ID, which is all the baseline has; expected SID variants only")


def evaluate_ranking(ds: Dataset, encoder: TextEncoder | None, variants: list[str], *, seeds: list[int],
                     dim: int = 32, vq_k: int = 25, item_ids: bool = True, epochs: int = 2, neg_ratio: int = 4,
                     levels: int = 3, codebook_size: int = 64, sids: str | Path | None = None,
                     history_length: int = 30, codes: str = "qarm", code_params: dict | None = None,
                     cf_input: dict | None = None, sid_features: dict | None = None, finetune: dict | None = None,
                     settings: dict[str, dict] | None = None, progress: bool = False) -> dict:
    """{variant: {task: {auc, uauc, gauc, *_std, n, n_users}, "groups": ..., "cold_start": ..., "per_seed"}}.

    ``codes``: the method fitted per seed on the training clicks (any registered one, with
    ``code_params`` for its constructor; ``cf_input``: CFInput's parameters; ``finetune``: the text
    encoder fine-tuned first on the seed's training pairs, methods/encoder_finetune's options), unless
    ``sids`` names a SID folder. ``sid_features``: how the ranker embeds SIDs (ranking/sid_features.py).
    ``settings``: {name: {"item_ids", "sid_features"}}, several rankers over one code fit per seed (the
    codes are fitted once, and the settings' differences are paired); results are then keyed
    ``"name/variant"``."""
    runs = settings or {"": {}}
    for name, setting in runs.items():
        unknown = set(setting) - {"item_ids", "sid_features"}
        if unknown:
            raise SidkitError(f"ranking setting {name!r} has {sorted(unknown)[0]!r}; expected item_ids, sid_features")
        scheme = (setting.get("sid_features", sid_features) or {}).get("scheme", "per-level")
        if scheme not in SCHEMES:
            raise SidkitError(f"SID features {scheme!r}; expected one of {', '.join(SCHEMES)}")
        check_variants(variants, setting.get("item_ids", item_ids))
    from sidkit.methods import method_class

    check_params(codes, method_class(codes), code_params or {})
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    need_codes = any(VARIANTS[v] for v in variants)
    x = item_embeddings(ds, encoder) if need_codes and sids is None else None
    keys = {(name, v): f"{name}/{v}" if name else v for name in runs for v in variants}
    per_seed: dict[str, list[dict]] = {key: [] for key in keys.values()}
    for seed in seeds:
        samples = build_samples(ds.interactions, neg_ratio=neg_ratio, seed=seed)
        history = histories(samples, history_length)
        say(f"seed {seed}: {int(samples.train.sum())} training and {int(samples.test.sum())} test samples, "
            f"{len(samples.cold_items)} cold items, tasks {', '.join(samples.tasks)}")
        source = None
        if need_codes:
            if sids is not None:
                source = sid_folder_codes(sids, ds.catalog.item_ids, ds.interactions.user_ids)
            else:
                source = fitted_codes(codes, samples, ds, x, encoder, levels=levels, codebook_size=codebook_size,
                                      seed=seed, params=code_params, cache_dir=pair_cache_dir(encoder),
                                      cf_input=cf_input, finetune=finetune)
        for (name, v), key in keys.items():
            t = time.perf_counter()
            setting = runs[name]
            try:
                out = run_variant(samples, history, source, v, dim=dim, vq_k=vq_k,
                                  item_ids=setting.get("item_ids", item_ids), epochs=epochs, seed=seed,
                                  sid_features=setting.get("sid_features", sid_features), progress=progress)
            except SidkitError as e:  # e.g. a SID folder without VQ codes: reported, not dropped
                out = {"missing": str(e)}
            per_seed[key].append(out)
            summary = {t_: round(out[t_]["auc"], 4) for t_ in samples.tasks} if "missing" not in out else out
            say(f"  {key}: {summary} ({time.perf_counter() - t:.0f}s)")
    return {key: aggregate(found) for key, found in per_seed.items()}


def aggregate(runs: list[dict]) -> dict:
    """Mean (and std over seeds, as ``<name>_std``) of every figure, keeping the nesting; the runs kept."""
    if any("missing" in r for r in runs):
        return {"missing": next(r["missing"] for r in runs if "missing" in r)}

    def merge(parts: list[dict]) -> dict:
        out: dict = {}
        for key, value in parts[0].items():
            if isinstance(value, dict):
                out[key] = merge([p[key] for p in parts])
            elif isinstance(value, float):
                vals = np.array([p[key] for p in parts], dtype=np.float64)
                out[key] = float(np.nanmean(vals)) if not np.isnan(vals).all() else float("nan")
                if len(parts) > 1:
                    out[f"{key}_std"] = float(np.nanstd(vals, ddof=1)) if (~np.isnan(vals)).sum() > 1 else float("nan")
            else:
                out[key] = value
        return out

    return {**merge(runs), "per_seed": runs}
