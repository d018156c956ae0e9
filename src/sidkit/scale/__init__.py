"""Catalogue scale on Ray: sharded assign with the exact global collision step, streamed quality.

This layer sits beside ``serve/`` at the top: it uses the frozen tokenizers (``methods/``), the collision
rules (``sids/``) and the shard readers (``data/``) unchanged, and leaves the scheduling, shuffles and
retries to Ray Data. Ray is optional (``pip install 'sidkit[ray]'``); nothing below imports this.
"""
