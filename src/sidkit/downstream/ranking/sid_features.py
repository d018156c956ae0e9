"""How a ranker embeds a SID: one table per level, or hashed prefixes / n-grams of codes in one table.

- ``per-level``: code c_l of level l looks up row c_l of level l's own table (QARM's RQ features).
  Two items sharing code 5 at level 2 share that row even when their level-1 codes differ, though
  level-2 code 5 means something different under each level-1 code.
- ``prefix-ngram`` (Zheng et al., "Better Generalization with Semantic IDs", 2024; Meta's prefix-ngram
  parameterisation, 2025): one row per prefix (c_1), (c_1, c_2), ..., (c_1, ..., c_L). Items share
  exactly the rows of the prefixes they share, so sharing follows the tree the codes build.
- ``ngram``: one row per contiguous n-gram (c_s, ..., c_{s+m-1}) for every length m ≤ ``n``.

Every gram is first numbered exactly: its codes read as one mixed-radix number (the level sizes are
the radices), plus an offset that keeps grams of different positions and lengths apart. With
``table_size`` 0 that number is the row (no sharing but the intended one). Otherwise the row is
splitmix64(number) mod ``table_size``: a fixed table however many prefixes exist, at the cost of rare
unrelated grams sharing a row.
"""

from __future__ import annotations

import numpy as np

from sidkit.errors import SidkitError

SCHEMES = ("per-level", "prefix-ngram", "ngram")
MASK = (1 << 64) - 1


def grams(levels: int, scheme: str, n: int = 2) -> list[tuple[int, int]]:
    """The (start, length) of each gram a scheme embeds, in feature order."""
    if scheme == "prefix-ngram":
        return [(0, m) for m in range(1, levels + 1)]
    if scheme == "ngram":
        if n < 1:
            raise SidkitError(f"--ngram {n}; expected n-grams of length 1 or more")
        return [(s, m) for m in range(1, min(n, levels) + 1) for s in range(levels - m + 1)]
    raise SidkitError(f"SID features {scheme!r} have no grams; expected prefix-ngram or ngram")


def gram_numbers(codes: np.ndarray, sizes: list[int], blocks: list[tuple[int, int]]) -> np.ndarray:
    """[N, F] uint64: each gram's exact number (its codes as a mixed-radix number plus its block's offset).
    Exact while all the grams' count stays below 2^64; past that it wraps, and only the hash is left."""
    codes = np.asarray(codes, dtype=np.uint64)
    out = np.zeros((len(codes), len(blocks)), dtype=np.uint64)
    offset = 0
    with np.errstate(over="ignore"):
        for f, (start, length) in enumerate(blocks):
            number = np.zeros(len(codes), dtype=np.uint64)
            for level in range(start, start + length):
                number = number * np.uint64(sizes[level]) + codes[:, level]
            out[:, f] = number + np.uint64(offset & MASK)
            offset += int(np.prod([sizes[level] for level in range(start, start + length)], dtype=object))
    return out


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele et al., 2014): a cheap, well-mixed 64-bit hash."""
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sid_rows(codes: np.ndarray, sizes: list[int], scheme: str, table_size: int = 0,
             n: int = 2) -> tuple[np.ndarray, int]:
    """``(rows [N, F] int64, rows in the table)`` for a gram scheme (not ``per-level``)."""
    if table_size < 0:
        raise SidkitError(f"--table-size {table_size}; expected 0 (one row per gram) or a positive size")
    blocks = grams(np.asarray(codes).shape[1], scheme, n)
    numbers = gram_numbers(codes, sizes, blocks)
    if table_size == 0:
        total = sum(int(np.prod([sizes[lv] for lv in range(s, s + m)], dtype=object)) for s, m in blocks)
        if total > 50_000_000:
            raise SidkitError(f"{scheme} over codebook sizes {sizes} has {total} grams; expected --table-size N "
                              "to hash them into N rows")
        return numbers.astype(np.int64), total
    return (splitmix64(numbers) % np.uint64(table_size)).astype(np.int64), table_size
