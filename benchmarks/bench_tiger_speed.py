"""TIGER on CPU: seconds per training epoch and constrained beam-search users/s on Beauty, with
rq-kmeans SIDs (titles, 3 × 256, seed 0). A speed probe, not a quality figure: a short training run.

    python benchmarks/bench_tiger_speed.py [--epochs 1] [--users 2000] [--config small] [--beam 20]
                                           [--encoder-input items|tokens]

Decoding is timed twice on the same trained model: as committed (one encoder memory per user, shared
by its beams inside cross-attention) and with the memory repeated per beam (what a stock
``nn.TransformerDecoder`` needs); the answers must be the same. Appends one JSON record to
benchmarks/out/tiger_speed.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from sidkit.content.text_encoder import TextEncoder
from sidkit.data import load_dataset
from sidkit.downstream.generative.split import Examples, sequence_split
from sidkit.downstream.generative.tiger import Tiger
from sidkit.evaluate.retrieval import retrieval_metrics
from sidkit.workflow import fit_method, prepare


def _timed_recommend(model: Tiger, test: Examples) -> tuple:
    t = time.perf_counter()
    ranked = model.recommend(test, 10)
    return ranked, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="../shared/datasets/beauty")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--users", type=int, default=2000, help="test users decoded for the users/s figure")
    ap.add_argument("--config", default="small")
    ap.add_argument("--beam", type=int, default=20)
    ap.add_argument("--encoder-input", choices=["items", "tokens"], help="default: the config's")
    args = ap.parse_args()
    ds = load_dataset("beauty", args.data_dir, template="{title}")
    prep = prepare(ds, TextEncoder(show_progress=False), need_pairs=False)
    sids = fit_method(prep, "rq-kmeans", seed=0).sids
    split = sequence_split(ds.interactions)
    extra = {"encoder_input": args.encoder_input} if args.encoder_input else {}
    model = Tiger(args.config, seed=0, epochs=args.epochs, eval_every=args.epochs, beam=args.beam, valid_users=500,
                  **extra)
    t = time.perf_counter()
    model.fit(split, sids.sid)
    train_s = time.perf_counter() - t
    test = Examples(split.test.users[:args.users], split.test.history[:args.users], split.test.target[:args.users])
    ranked, decode_s = _timed_recommend(model, test)

    shared = model.net_.decode

    def repeated(memory: torch.Tensor, pad: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        q, beam, d = prefix.shape
        out = shared(memory.repeat_interleave(beam, 0), pad.repeat_interleave(beam, 0), prefix.reshape(q * beam, 1, d))
        return out.view(q, beam, -1)

    model.net_.decode = repeated
    ranked_rep, repeated_s = _timed_recommend(model, test)
    rec = {"config": args.config, "params": asdict(model.config), "threads": torch.get_num_threads(),
           "train_examples": len(split.train), "seconds_per_epoch": round(train_s / args.epochs, 1),
           "decoded_users": len(test), "decode_seconds": round(decode_s, 1),
           "users_per_second": round(len(test) / decode_s, 1),
           "users_per_second_memory_repeated_per_beam": round(len(test) / repeated_s, 1),
           "same_answers": bool((ranked == ranked_rep).all()), "all_valid": bool((ranked >= 0).all()),
           "after_epochs": args.epochs, **retrieval_metrics(ranked, test.target)}
    Path("benchmarks/out").mkdir(parents=True, exist_ok=True)
    with open("benchmarks/out/tiger_speed.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec, indent=2))


if __name__ == "__main__":
    main()
