"""Amazon 2018 Industrial & Scientific (LC-Rec/LETTER 5-core): the embedded default data set."""

from __future__ import annotations

import json
import lzma
from importlib import resources
from pathlib import Path

import numpy as np

from sidkit.data.types import Catalog, Dataset, Interactions
from sidkit.errors import input_error

TEMPLATE = "{title}[. Brand: {brand}][. Categories: {categories}][. {description}]"
FIELDS = ("title", "description", "brand", "categories")


def _read_json(data_dir: Path | None, name: str) -> dict:
    if data_dir is None:
        with resources.files("sidkit.data.embedded").joinpath(name + ".xz").open("rb") as f:
            return json.loads(lzma.decompress(f.read()))
    path = data_dir / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise input_error(path, "no such file; expected the Scientific data set's JSON files here") from None
    except ValueError as e:
        raise input_error(path, f"not valid JSON ({e})") from None


def load_scientific(data_dir: str | Path | None = None) -> Dataset:
    """Load from ``data_dir`` if given, else from the compressed copy shipped inside the package."""
    d = Path(data_dir) if data_dir is not None else None
    items = _read_json(d, "Scientific.item.json")
    inter = _read_json(d, "Scientific.inter.json")
    src = str(d / "Scientific.item.json") if d else "sidkit:scientific"
    ids = sorted(items, key=int)
    text = {f: [str(items[i].get(f) or "") for i in ids] for f in FIELDS}
    catalog = Catalog(item_ids=ids, text=text, source=src)
    index = catalog.index
    users, seq_items = [], []
    for user in sorted(inter, key=int):
        for item in inter[user]:
            if str(item) not in index:
                raise input_error(str(d / "Scientific.inter.json") if d else "sidkit:scientific",
                                  f"unknown item {item}", field=f"user {user}")
            users.append(user)
            seq_items.append(index[str(item)])
    interactions = Interactions.from_events(users, np.asarray(seq_items), len(catalog), source="scientific")
    return Dataset("scientific", catalog, interactions, TEMPLATE)
