#!/usr/bin/env bash
# The group head-to-head on one spurious-correlation experiment, paired seeds, the same model,
# epochs and validation split for all: ERM, the group baselines, AutoBalance for the worst
# group and AutoBalance for a DEO trade-off (lambda 0.5); then the trade-off's Pareto sweep over
# lambda (seed 0; PARETO=0 skips it), one table (paired differences in worst-group error
# against ERM) and a plot. Two jobs at a time, one thread each.
#
#   bash scripts/run_groups.sh spurious_fashion [key=value ...]
#   SEEDS=0,1,2 PARETO=0 OUT=experiments/groups/NAME bash scripts/run_groups.sh EXPERIMENT ...
set -euo pipefail
EXP=$1
shift
SEEDS=${SEEDS:-0,1,2}
OUT=${OUT:-experiments/groups/${EXP}}
DEO="objective=trade_off objective.accuracy=group_balanced objective.fairness=deo"
train() {
  python -m autobalance.train -m +experiment="$EXP" hydra/launcher=local logger.progress=false "$@"
}
train "$@" seed="$SEEDS" +baseline=ce,group_reweighted,group_balanced_sampling,group_la,group_dro,jtt,dfr \
  hydra.sweep.dir="$OUT/runs/baselines"
train "$@" seed="$SEEDS" hydra.sweep.dir="$OUT/runs/autobalance_worst_group"
# shellcheck disable=SC2086
train "$@" seed="$SEEDS" $DEO objective.fairness_weight=0.5 hydra.sweep.dir="$OUT/runs/autobalance_deo"
if [ "${PARETO:-1}" != 0 ]; then
  # shellcheck disable=SC2086
  train "$@" seed=0 $DEO objective.fairness_weight=0,0.25,0.75,1 hydra.sweep.dir="$OUT/runs/pareto"
fi
python scripts/aggregate.py "$OUT/runs" --out "$OUT" --paired-with ce --paired-metric worst_group_error
python scripts/plot_pareto.py "$OUT/summary.csv" --out "$OUT/pareto.png"
