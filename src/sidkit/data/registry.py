"""Named data sets, and the generic pair of files, behind one function."""

from __future__ import annotations

from pathlib import Path

from sidkit.data.beauty import load_beauty
from sidkit.data.files import read_catalog, read_interactions
from sidkit.data.movielens import load_movielens
from sidkit.data.scientific import load_scientific
from sidkit.data.types import Dataset
from sidkit.errors import SidkitError

NAMED = ("scientific", "beauty", "ml-100k")


def load_dataset(
    name: str | None = None,
    data_dir: str | Path | None = None,
    *,
    items: str | Path | None = None,
    interactions: str | Path | None = None,
    template: str | None = None,
) -> Dataset:
    """Load ``name`` (``scientific`` needs no ``data_dir``) or the generic ``items`` + ``interactions`` files."""
    if name is not None and (items is not None or interactions is not None):
        raise SidkitError("give either --dataset or --items/--interactions, not both")
    if name is None:
        if items is None or interactions is None:
            raise SidkitError("give --dataset NAME, or both --items FILE and --interactions FILE")
        catalog = read_catalog(items)
        inter = read_interactions(interactions, catalog)
        # every text column, in file order; an item's empty fields drop out (see content/template.py)
        default = "".join(("[{%s}]" if k == 0 else "[. {%s}]") % c for k, c in enumerate(catalog.text))
        ds = Dataset(Path(items).stem, catalog, inter, default)
    elif name == "scientific":
        ds = load_scientific(data_dir)
    elif name in ("beauty", "ml-100k"):
        if data_dir is None:
            raise SidkitError(f"--dataset {name} is not shipped with sidkit; give --data-dir with its files")
        ds = load_beauty(data_dir) if name == "beauty" else load_movielens(data_dir)
    else:
        raise SidkitError(f"unknown dataset {name!r}; expected one of {', '.join(NAMED)}")
    if template is not None:
        ds = Dataset(ds.name, ds.catalog, ds.interactions, template, ds.user_text)
    return ds
