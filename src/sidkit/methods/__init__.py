"""One recipe per paper or baseline, behind the same tokenizer contract (see base.py)."""

from sidkit.methods.base import Tokenizer
from sidkit.methods.qarm import QARM
from sidkit.methods.registry import METHODS, load_tokenizer, make_tokenizer
from sidkit.methods.rq_kmeans import RQKMeans

__all__ = ["METHODS", "QARM", "RQKMeans", "Tokenizer", "load_tokenizer", "make_tokenizer"]
