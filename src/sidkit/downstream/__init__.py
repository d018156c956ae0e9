"""Downstream uses of SIDs: ranking (QARM features in an MMoE ranker), generative retrieval (TIGER)."""
