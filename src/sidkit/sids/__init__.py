"""The SID table, its quality figures, disambiguation and token export."""

from sidkit.sids.disambiguate import disambiguation_level, with_disambiguation
from sidkit.sids.quality import collab_prefix_agreement, neighbour_preservation, sid_quality
from sidkit.sids.table import SemanticIDs
from sidkit.sids.tokens import sid_to_tokens, token_vocabulary

__all__ = ["SemanticIDs", "collab_prefix_agreement", "neighbour_preservation", "disambiguation_level", "sid_quality", "sid_to_tokens",
           "token_vocabulary", "with_disambiguation"]
