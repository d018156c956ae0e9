"""QARM ranking: samples, the MMoE model with SID features, training, the evaluation protocol."""
