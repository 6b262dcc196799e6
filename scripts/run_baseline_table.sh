#!/usr/bin/env bash
# The baseline table of the loss-family issue: Fashion-MNIST-LT rho=100, 3 seeds, the same
# epochs for every method, standard hyperparameters (configs/hparams_search/baselines.yaml),
# then the aggregated table.
#   bash scripts/run_baseline_table.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-experiments/baselines/fashion_mnist_lt_rho100}
python -m autobalance.train -m +experiment=fashion_mnist_lt +hparams_search=baselines logger.progress=false \
    hydra.sweep.dir="$OUT/runs"
python scripts/aggregate.py "$OUT/runs" --out "$OUT"
