#!/bin/bash
# Fits every method (and its ablation switches, both collision modes) on the embedded data with a fixed
# seed and prints a hash of each sids.parquet / user_sids.parquet: run it on two checkouts and diff the
# output to show a change kept every SID to the byte.
#   benchmarks/same_sids.sh OLD_CHECKOUT/src /tmp/old > old.txt
#   benchmarks/same_sids.sh src /tmp/new > new.txt && diff old.txt new.txt
set -euo pipefail
SRC=$(cd "$1" && pwd); OUT=$2; mkdir -p "$OUT"
PY=${PYTHON:-$(dirname "$0")/../.venv/bin/python}
export PYTHONPATH=$SRC HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
run() { name=$1; shift; rm -rf "$OUT/$name"
        "$PY" -m sidkit.cli fit "$@" --dataset scientific --seed 3 --out "$OUT/$name" >/dev/null 2>"$OUT/$name.err" \
          || { echo "FAIL $name: $(tail -1 "$OUT/$name.err")" >&2; exit 1; }; }
run rqk rq-kmeans
run rqk-re rq-kmeans --collisions reassign
run qarm qarm
run rqvae rqvae --steps 300
run rqvae-re rqvae --steps 300 --collisions reassign --collision-k 8
run rqvae-hamr rqvae --steps 200 --objective hamr --param hamr.margin_full=0.9 --no-cvpm
run quasid quasid --steps 300
run quasid-nohamr quasid --steps 200 --no-hamr
run adasid adasid --steps 300
run adasid-nopar adasid --steps 200 --no-par --no-sear
run das das --steps 200 --codebook-size 64
run das-abl das --steps 200 --codebook-size 64 --no-view co_user --no-debias
cd "$OUT" && for f in */sids.parquet */user_sids.parquet; do echo "$(sha256sum < "$f" | cut -c1-16) $f"; done
