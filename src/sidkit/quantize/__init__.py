"""Quantizers: faiss k-means, residual k-means, top-K item codes."""

from sidkit.quantize.kmeans import kmeans_centroids, nearest
from sidkit.quantize.residual_kmeans import ResidualKMeans
from sidkit.quantize.topk_codes import topk_codes

__all__ = ["ResidualKMeans", "kmeans_centroids", "nearest", "topk_codes"]
