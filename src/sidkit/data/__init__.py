"""Catalogues, interactions, named data sets and splits."""

from sidkit.data.registry import NAMED, load_dataset
from sidkit.data.splits import Split, last_transitions, leave_one_out, temporal
from sidkit.data.types import Catalog, Dataset, Interactions

__all__ = ["NAMED", "Catalog", "Dataset", "Interactions", "Split", "last_transitions", "leave_one_out",
           "load_dataset", "temporal"]
