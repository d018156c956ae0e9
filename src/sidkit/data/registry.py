"""Named data sets, and the generic pair of files, behind one function."""

from __future__ import annotations

from pathlib import Path

from sidkit.data.beauty import load_beauty
from sidkit.data.files import read_catalog, read_interactions
from sidkit.data.movielens import load_movielens
from sidkit.data.sample import sample_catalog
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
    sample: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load ``name`` (``scientific`` needs no ``data_dir``) or the generic ``items`` [+ ``interactions``]
    files (a file, or a folder / glob of Parquet shards). ``sample``: a seeded uniform sample of that many
    items, read shard by shard (data/sample.py), with the interactions of those items only."""
    if name is not None and (items is not None or interactions is not None):
        raise SidkitError("give either --dataset or --items/--interactions, not both")
    if sample is not None and items is None:
        raise SidkitError("--sample N samples --items FILES; expected --items with it")
    if name is None:
        if items is None:
            raise SidkitError("give --dataset NAME, or --items FILE (and --interactions FILE where the method "
                              "uses clicks)")
        catalog = read_catalog(items) if sample is None else sample_catalog(items, sample, seed)
        inter = None if interactions is None else read_interactions(interactions, catalog,
                                                                    drop_unknown=sample is not None)
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
