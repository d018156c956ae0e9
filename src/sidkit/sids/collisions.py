"""Collision handling: what happens when two items land on the same code tuple.

- ``disambiguate`` (default, TIGER): codes stay as encoded; the SID's extra level (0, 1, 2, ...) tells the
  items apart. Nothing moves, so codes keep their meaning exactly.
- ``reassign``: an item whose tuple already holds ``capacity`` items moves to the least loaded of the
  ``k`` last-level codes nearest to its last residual (same prefix), nearest first among equally loaded
  ones. Only the last level moves, so the coarse levels' meaning is kept; an item with no candidate
  under capacity keeps its nearest code and the disambiguation level separates it.
- ``reassign-optimal``: the same moves chosen together instead of one item at a time: within each group
  of new items sharing their first L−1 codes, a minimum-cost matching (scipy's ``linear_sum_assignment``)
  of items to the free places on their ``k`` candidate tuples, where an item costs the rank of the
  candidate it gets (0: its own nearest code). It first places as many items as any assignment can, then
  moves them as little as possible in total; greedy can strand an item whose only free candidate an
  earlier item took.

Items are taken in row order and earlier rows keep their place: appending new items never moves an
existing one (the lifecycle's promise that a SID, once given, never changes).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from sidkit.errors import SidkitError

MODES = ("disambiguate", "reassign", "reassign-optimal")
DEFAULT_COLLISIONS = {"mode": "disambiguate", "k": 16, "capacity": 1}
SHOWN = ("collision_rate", "max_bucket", "n_unique_sids", "sid_entropy")  # figures given before and after


def check_mode(mode: str, k: int, capacity: int) -> None:
    if mode not in MODES:
        raise SidkitError(f"collision mode {mode!r}; expected one of {', '.join(MODES)}")
    if k < 1 or capacity < 1:
        raise SidkitError(f"collision k={k}, capacity={capacity}; expected both at least 1")


def resolve_settings(fitted: dict | None, given: dict | None) -> dict:
    """An assign's collision settings: what was given, else the fit's choice (manifest), else the default."""
    if set(given or {}) - set(DEFAULT_COLLISIONS):
        raise SidkitError(f"collision settings {sorted(given)}; expected {', '.join(DEFAULT_COLLISIONS)}")
    settings = {k: (given or {}).get(k, (fitted or {}).get(k, default)) for k, default in DEFAULT_COLLISIONS.items()}
    check_mode(**settings)
    return settings


def tuple_loads(codes: np.ndarray) -> Counter:
    """Items per full code tuple."""
    return Counter(map(tuple, np.asarray(codes, dtype=np.int64).tolist()))


def moves_report(rank: np.ndarray, over: np.ndarray) -> dict:
    """What moved, from each item's candidate rank (0: its own code) and whether it found no room."""
    moved = rank[rank > 0]
    return {"moved": int(len(moved)), "over_capacity": int(over.sum()),
            "mean_rank": float(moved.mean()) if len(moved) else 0.0}


def reassign(codes: np.ndarray, candidates: np.ndarray, capacity: int = 1,
             loads: Counter | None = None) -> tuple[np.ndarray, dict]:
    """Codes after re-assignment, and what moved.

    ``codes`` [N, L] as encoded; ``candidates`` [N, k] last-level codes, nearest first (column 0 is the
    encoded last code); ``loads``: items already on each tuple (the existing table when assigning new
    items; it is updated in place). Returns (codes [N, L], {"moved", "over_capacity", "mean_rank"}).
    """
    codes, rank, over = reassign_rows(codes, candidates, capacity, loads)
    return codes, moves_report(rank, over)


def reassign_rows(codes: np.ndarray, candidates: np.ndarray, capacity: int = 1,
                  loads: Counter | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``reassign`` with what happened per item: (codes, candidate rank taken, no room found)."""
    codes = np.asarray(codes, dtype=np.int64).copy()
    candidates = np.asarray(candidates, dtype=np.int64)
    loads = Counter() if loads is None else loads
    rank = np.zeros(len(codes), dtype=np.int64)
    over = np.zeros(len(codes), dtype=bool)
    for i, row in enumerate(codes.tolist()):
        prefix = tuple(row[:-1])
        options = [prefix + (int(c),) for c in candidates[i]]
        room = [(loads[t], r) for r, t in enumerate(options) if loads[t] < capacity]
        if room:
            rank[i] = min(room)[1] if loads[options[0]] >= capacity else 0
        else:
            over[i] = True
        chosen = options[rank[i]]
        codes[i, -1] = chosen[-1]
        loads[chosen] += 1
    return codes, rank, over


def reassign_optimal(codes: np.ndarray, candidates: np.ndarray, capacity: int = 1,
                     loads: Counter | None = None) -> tuple[np.ndarray, dict]:
    """``reassign``'s contract (same arguments, same report), with the moves of each prefix group chosen
    by one minimum-cost matching. Existing items (``loads``) never move; items left without a free place
    keep their nearest code (``over_capacity``)."""
    codes, rank, over = reassign_optimal_rows(codes, candidates, capacity, loads)
    return codes, moves_report(rank, over)


def reassign_optimal_rows(codes: np.ndarray, candidates: np.ndarray, capacity: int = 1,
                          loads: Counter | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``reassign_optimal`` with what happened per item: (codes, candidate rank taken, no room found)."""
    from scipy.optimize import linear_sum_assignment

    codes = np.asarray(codes, dtype=np.int64).copy()
    candidates = np.asarray(candidates, dtype=np.int64)
    loads = Counter() if loads is None else loads
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(codes[:, :-1].tolist()):
        groups.setdefault(tuple(row), []).append(i)
    rank = np.zeros(len(codes), dtype=np.int64)
    over = np.zeros(len(codes), dtype=bool)
    for prefix, rows in groups.items():
        # the free places: one column per item a candidate tuple can still take (at most K·capacity)
        free: dict[int, int] = {}
        for i in rows:
            for c in candidates[i].tolist():
                if c not in free:
                    free[c] = min(len(rows), max(0, capacity - loads[prefix + (c,)]))
        slots = [c for c, n in free.items() for _ in range(n)]
        # a place that is not among an item's candidates costs more than all ranks together, so the
        # matching first places as many items as any assignment can, then minimises the total rank
        never = float(candidates.shape[1] * len(rows) + 1)
        cost = np.full((len(rows), len(slots)), never)
        column = {c: [] for c in free}
        for col, c in enumerate(slots):
            column[c].append(col)
        for r, i in enumerate(rows):
            for place, c in enumerate(candidates[i].tolist()):
                cost[r, column[c]] = np.minimum(cost[r, column[c]], place)
        place = dict(zip(*linear_sum_assignment(cost))) if slots else {}
        for r, i in enumerate(rows):
            col = place.get(r)
            if col is None or cost[r, col] == never:
                over[i] = True
                chosen = int(candidates[i, 0])
            else:
                chosen, rank[i] = slots[col], int(cost[r, col])
            codes[i, -1] = chosen
            loads[prefix + (chosen,)] += 1
    return codes, rank, over


ROW_MOVES = {"reassign": reassign_rows, "reassign-optimal": reassign_optimal_rows}


def handle_collisions(settings: dict, encode: Callable[[], np.ndarray],
                      candidates: Callable[[int], tuple[np.ndarray, np.ndarray]],
                      loads: Counter | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The one place a collision mode is applied, for a fit and for every assign: (codes to store, codes
    as encoded, what was done: the settings, plus what moved for ``reassign``). ``loads``: items already on
    each tuple (the existing table; updated in place)."""
    check_mode(settings["mode"], settings["k"], settings["capacity"])
    if settings["mode"] in ("reassign", "reassign-optimal"):
        encoded, options = candidates(settings["k"])
        codes, rank, over = ROW_MOVES[settings["mode"]](encoded, options, settings["capacity"], loads)
        return codes, encoded, {**settings, **moves_report(rank, over)}
    encoded = encode()
    return encoded, encoded, dict(settings)
