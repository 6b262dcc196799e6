#!/usr/bin/env bash
# Learned per-class augmentation against fixed augmentation, on one experiment, paired seeds:
#   AutoBalance learning the offsets alone, the augmentation magnitudes alone (offsets fixed at
#   logit adjustment, the search's start) and both together; LA and CE (ERM) with the fixed
#   augmentation of the experiment; two jobs at a time, one thread each; then one table.
#
#   bash scripts/run_augmentation.sh fashion_mnist_lt [key=value ...]   # e.g. data.n_max=500
#   SEEDS=0,1,2 OUT=experiments/augmentation/NAME bash scripts/run_augmentation.sh EXPERIMENT ...
set -euo pipefail
EXP=$1
shift
SEEDS=${SEEDS:-0,1,2}
OUT=${OUT:-experiments/augmentation/${EXP}}
train() {
  python -m autobalance.train -m +experiment="$EXP" hydra/launcher=local logger.progress=false seed="$SEEDS" "$@"
}
train "$@" search=none loss=la,ce hydra.sweep.dir="$OUT/runs/baselines"
train "$@" search.family.learn=[offsets],[augment],[offsets,augment] search.compare_with=[] \
  hydra.sweep.dir="$OUT/runs/autobalance"
python scripts/aggregate.py "$OUT/runs" --out "$OUT" --paired-with "la(tau=1)"
