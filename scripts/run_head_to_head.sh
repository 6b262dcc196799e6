#!/usr/bin/env bash
# The head-to-head of the benchmark issue for one experiment and imbalance ratio:
#   1. the standard baselines (+hparams_search=baselines), SEEDS;
#   2. AutoBalance, our default recipe, SEEDS;
#   3. baselines tuned on the validation split: every grid in TUNE on seed 0
#      (train_on_val=false), the best value by validation balanced error, then SEEDS with it;
#   4. the official recipe's settings (search=paper) scaled to the experiment's epochs:
#      search 1.5x the training epochs, hyper-steps from 40% of it, schedule x0.1 at 73% and 87%;
#   then one table (scripts/aggregate.py) over everything.
#
#   bash scripts/run_head_to_head.sh EXPERIMENT RHO [key=value ...]   # e.g. fashion_mnist_lt 100
#   SEEDS=0,1,2 TUNE="la vs cdt focal cb_focal la_posthoc ldam_drw" STEPS="1 2 3 4" bash scripts/...
#   AUTOBALANCE="search.family.learn=[scales,offsets] search.family.init=la,vs" bash scripts/...
# AUTOBALANCE: overrides (sweeps allowed) of step 2's runs; the trailing key=value pairs apply to
# every run (resume=true continues an interrupted script).
set -euo pipefail
EXP=$1
RHO=$2
shift 2
SEEDS=${SEEDS:-0,1,2}
TUNE=${TUNE:-"la vs cdt focal cb_focal la_posthoc ldam_drw"}
STEPS=${STEPS:-"1 2 3 4"}
OUT=${OUT:-experiments/head_to_head/${EXP}_rho${RHO}}
COMMON=(+experiment="$EXP" data.rho="$RHO" logger.progress=false "$@")
train() { python -m autobalance.train -m "${COMMON[@]}" "$@"; }
epochs=$(python -c "
from hydra import compose, initialize_config_module
with initialize_config_module(config_module='autobalance.configs', version_base='1.3'):
    print(compose(config_name='config', overrides=['+experiment=$EXP']).optim.epochs)")

for step in $STEPS; do
  case $step in
    1) train +hparams_search=baselines seed="$SEEDS" hydra.sweep.dir="$OUT/runs/baselines" ;;
    # shellcheck disable=SC2086
    2) train seed="$SEEDS" search.compare_with=[] ${AUTOBALANCE:-} hydra.sweep.dir="$OUT/runs/autobalance" ;;
    3) for grid in $TUNE; do
         train +hparams_search=tune_"$grid" seed=0 hydra.sweep.dir="$OUT/tuning/$grid"
       done
       python scripts/aggregate.py "$OUT/tuning" --out "$OUT/tuning" --tuning
       i=0
       while read -r line; do
         # shellcheck disable=SC2086
         train $line train_on_val=true seed="$SEEDS" hydra.sweep.dir="$OUT/runs/tuned/$i"
         i=$((i + 1))
       done < <(python scripts/tuned_overrides.py "$OUT/tuning/tuned.json") ;;
    4) search=$((epochs * 3 / 2))
       train search=paper seed="$SEEDS" search.epochs="$search" search.warmup_epochs=$((search * 2 / 5)) \
         "search.inner.milestones=[$((search * 11 / 15)),$((search * 13 / 15))]" \
         hydra.sweep.dir="$OUT/runs/paper" ;;
  esac
done
python scripts/aggregate.py "$OUT/runs" --out "$OUT"
