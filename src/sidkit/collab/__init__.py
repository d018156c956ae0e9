"""Collaborative signal: item pairs (co-occurrence, Swing, QARM u2i triggers) and the ID CF model."""

from sidkit.collab.bpr import BPRMF
from sidkit.collab.cooccurrence import cooccurrence_pairs
from sidkit.collab.item_pairs import ItemPairs
from sidkit.collab.mine import MINERS, mine_pairs
from sidkit.collab.swing import swing_pairs, swing_scores
from sidkit.collab.u2i_triggers import u2i_trigger_pairs

__all__ = ["BPRMF", "MINERS", "ItemPairs", "cooccurrence_pairs", "mine_pairs", "swing_pairs", "swing_scores",
           "u2i_trigger_pairs"]
