"""sidkit: Semantic IDs for recommendation, from item content and collaborative signal."""

__version__ = "0.1.0"

from sidkit.errors import SidkitError  # noqa: E402

__all__ = ["SidkitError", "__version__"]
