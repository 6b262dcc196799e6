#!/usr/bin/env bash
# CIFAR-10-LT rho=100 on one GPU, the LDAM-DRW protocol (ResNet-32, batch 128, 200 epochs):
# ERM, LDAM-DRW, LA, VS and AutoBalance, with balanced and few-shot error, throughput and wall
# time per method. Data: the JPEG copy of CIFAR-10 (compare with the JPEG reference numbers in
# docs, never with published lossless numbers).
#   bash scripts/run_cifar10_gpu.sh [DATA] [SEEDS]
set -euo pipefail
DATA=${1:-../shared/data/cifar10-jpeg.tar.gz}
SEEDS=${2:-0}
OUT=${OUT:-experiments/cifar10_lt_gpu}
COMMON=(+experiment=cifar10_lt data.path="$DATA" device=cuda logger.progress=false seed="$SEEDS")
python -m autobalance.train -m "${COMMON[@]}" +baseline=ce,ldam_drw,la,vs hydra.sweep.dir="$OUT/runs/baselines"
python -m autobalance.train -m "${COMMON[@]}" search.compare_with=[] hydra.sweep.dir="$OUT/runs/autobalance"
python scripts/aggregate.py "$OUT/runs" --out "$OUT"
