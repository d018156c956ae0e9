"""Amazon 2014 Beauty in the P5 format (the split that published TIGER/LETTER numbers use)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sidkit.data.types import Catalog, Dataset, Interactions
from sidkit.errors import input_error

TEMPLATE = "{title}"


def load_beauty(data_dir: str | Path) -> Dataset:
    d = Path(data_dir)
    titles_path, seq_path = d / "item_titles.tsv", d / "sequential_data.txt"
    for p in (titles_path, seq_path):
        if not p.is_file():
            raise input_error(p, "no such file; expected the P5 Beauty files (sequential_data.txt, item_titles.tsv)")
    ids, asins, titles = [], [], []
    with open(titles_path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:3] != ["p5_item_id", "asin", "title"]:
            raise input_error(titles_path, f"header {header}; expected p5_item_id, asin, title", row=0)
        for row, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                raise input_error(titles_path, "expected p5_item_id<TAB>asin<TAB>title", row=row)
            ids.append(parts[0])
            asins.append(parts[1])
            titles.append(parts[2] if len(parts) > 2 else "")
    catalog = Catalog(item_ids=ids, text={"title": titles, "asin": asins}, source=str(titles_path))
    index = catalog.index
    users, items = [], []
    with open(seq_path, encoding="utf-8") as f:
        for row, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            for item in parts[1:]:
                i = index.get(item)
                if i is None:
                    raise input_error(seq_path, f"unknown item {item!r}", row=row)
                users.append(parts[0])
                items.append(i)
    interactions = Interactions.from_events(users, np.asarray(items), len(catalog), source=str(seq_path))
    return Dataset("beauty", catalog, interactions, TEMPLATE)
