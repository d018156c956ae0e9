"""One recipe per paper or baseline, behind the same tokenizer contract (see base.py); each registers
itself by name (registry.py)."""

from sidkit.methods.adasid import AdaSID
from sidkit.methods.base import Tokenizer, clone, is_fitted
from sidkit.methods.das import DAS
from sidkit.methods.qarm import QARM
from sidkit.methods.quasid import QuaSID
from sidkit.methods.registry import METHODS, load_tokenizer, make_tokenizer, method_class, method_names
from sidkit.methods.rq_kmeans import RQKMeans
from sidkit.methods.rqvae import RQVAE

__all__ = ["METHODS", "AdaSID", "DAS", "QARM", "QuaSID", "RQKMeans", "RQVAE", "Tokenizer", "clone", "is_fitted",
           "load_tokenizer", "make_tokenizer", "method_class", "method_names"]
