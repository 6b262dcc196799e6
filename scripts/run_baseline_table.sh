#!/usr/bin/env bash
# The baseline table of the loss-family issue: Fashion-MNIST-LT rho=100, 3 seeds, the same
# epochs for every method, standard hyperparameters; then the aggregated table.
#   bash scripts/run_baseline_table.sh [OUT_DIR]
set -euo pipefail
OUT=${1:-experiments/baselines/fashion_mnist_lt_rho100}
COMMON=(+experiment=fashion_mnist_lt search=none seed=0,1,2 logger.progress=false device=cpu)
python -m autobalance.train -m "${COMMON[@]}" loss=ce,focal,cb_focal,la,la_posthoc,cdt,vs \
    hydra.sweep.dir="$OUT/runs/plain"
python -m autobalance.train -m "${COMMON[@]}" loss=ldam schedule=drw hydra.sweep.dir="$OUT/runs/ldam_drw"
python scripts/aggregate.py "$OUT/runs" --out "$OUT"
