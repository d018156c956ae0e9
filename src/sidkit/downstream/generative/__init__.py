"""Generative retrieval over SIDs: the P5 split, the SID trie and constrained beam search, TIGER,
the SASRec and most-popular baselines, the evaluation and the tokenizer benchmark."""
