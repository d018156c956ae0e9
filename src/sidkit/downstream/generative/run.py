"""One generative-retrieval evaluation: a SID table + interactions → TIGER trained on the P5 split →
Recall/NDCG@5/10 on each user's last item, with most-popular on the same split beside it.

``sasrec_baseline`` runs SASRec on item IDs in the same harness (same split, same metrics)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

import numpy as np

from sidkit.data.types import Dataset
from sidkit.downstream.generative.sasrec import SASRec
from sidkit.downstream.generative.split import most_popular, sequence_split
from sidkit.downstream.generative.tiger import CONFIGS, Tiger
from sidkit.errors import SidkitError
from sidkit.evaluate.retrieval import group_misses, retrieval_metrics, target_rank
from sidkit.params import params_of
from sidkit.sids.table import SemanticIDs

KS = (5, 10)


def catalogue_sids(table: SemanticIDs, item_ids: list[str], where: str) -> np.ndarray:
    """[n_items, D] each catalogue item's SID (disambiguation level included, so unique), in catalogue order."""
    return table.sid[table.rows_of(item_ids, where)]


def check_config(config: str) -> None:
    if config not in CONFIGS:
        raise SidkitError(f"config {config!r}; expected one of {', '.join(CONFIGS)}")


def evaluate_generative(ds: Dataset, table: SemanticIDs, *, config: str = "small", seed: int = 0,
                        where: str = "<sids>", progress: bool = False, **overrides) -> dict:
    """{recall@5, recall@10, ndcg@5, ndcg@10, popularity: {...}, users_per_second, ...}."""
    check_config(config)
    sid = catalogue_sids(table, ds.catalog.item_ids, where)
    model = Tiger(config, seed=seed, **overrides)
    split = sequence_split(ds.interactions, max_len=model.config.max_len)
    if len(split.test) == 0:
        raise SidkitError(f"{ds.interactions.source}: no user has 3 or more items; expected sequences to hold out "
                          "a validation and a test item from")
    t = time.perf_counter()
    model.fit(split, sid, progress=progress)
    train_seconds = time.perf_counter() - t
    t = time.perf_counter()
    ranked = model.recommend(split.test, max(KS))
    decode_seconds = time.perf_counter() - t
    if progress:
        print(f"  decoded {len(split.test)} test users in {decode_seconds:.1f}s "
              f"({len(split.test) / decode_seconds:.0f} users/s, beam {max(max(KS), model.config.beam)})",
              file=sys.stderr, flush=True)
    pop = most_popular(split, len(split.test), max(KS))
    _, tuples = np.unique(table.codes[table.rows_of(ds.catalog.item_ids, where)], axis=0, return_inverse=True)
    scores = [h["valid_ndcg@10"] for h in model.history_]
    return {**retrieval_metrics(ranked, split.test.target, KS),
            # per test user, in split order (the same users for every tokenizer): for paired comparisons
            "test_ranks": target_rank(ranked, split.test.target).tolist(),
            "collision_miss@10": group_misses(ranked, split.test.target, tuples.ravel(), 10),
            "best_epoch": model.history_[int(np.argmax(scores))]["epoch"] if scores else None,
            "last_epoch": model.history_[-1]["epoch"] if model.history_ else None,
            "popularity": retrieval_metrics(pop, split.test.target, KS),
            "n_test_users": len(split.test), "train_seconds": round(train_seconds, 1),
            "decode_seconds": round(decode_seconds, 1), "users_per_second": round(len(split.test) / decode_seconds, 1),
            "config": config, "params": asdict(model.config), "seed": seed, "history": model.history_}


def sasrec_recipe(overrides: dict | None = None) -> dict:
    """SASRec's every constructor value but the seed, defaults filled in: what a unit records, so a
    resume can tell a unit trained with other values even after a default changes."""
    return {**{name: p.default for name, p in params_of(SASRec).items() if name != "seed"}, **(overrides or {})}


def sasrec_baseline(ds: Dataset, *, seed: int = 0, progress: bool = False, **params) -> dict:
    model = SASRec(seed=seed, **params)
    split = sequence_split(ds.interactions, max_len=model.max_len)
    t = time.perf_counter()
    model.fit(split, ds.interactions.sequences(), progress=progress)
    ranked = model.recommend(split.test, max(KS))
    return {**retrieval_metrics(ranked, split.test.target, KS), "seconds": round(time.perf_counter() - t, 1),
            "test_ranks": target_rank(ranked, split.test.target).tolist(),
            "seed": seed, "params": sasrec_recipe(params), "history": model.history_}
