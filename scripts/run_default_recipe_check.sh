#!/usr/bin/env bash
# The short-schedule check of search=terminal_gamma as a default (experiments/default_recipe/):
#   bash scripts/run_default_recipe_check.sh head_to_head   # Fashion-MNIST-LT, SEEDS (default 0,1,2)
#   bash scripts/run_default_recipe_check.sh main_job       # the main job, terminal_gamma and the default
# Trailing key=value pairs apply to every run; OUT (default experiments/default_recipe/runs);
# resume=true continues an interrupted run.
set -euo pipefail
STAGE=$1
shift
SEEDS=${SEEDS:-0,1,2}
OUT=${OUT:-experiments/default_recipe/runs}
run() { python -m autobalance.train logger.progress=false resume=true "$@"; }
case $STAGE in
  head_to_head)
    for seed in ${SEEDS//,/ }; do
      run +experiment=fashion_mnist_lt seed="$seed" search=terminal_gamma search.compare_with=[] "$@" \
        hydra.run.dir="$OUT/fashion_mnist_lt/terminal_gamma/seed$seed"
    done ;;
  main_job)
    run search=terminal_gamma "$@" hydra.run.dir="$OUT/main_job/terminal_gamma"
    run "$@" hydra.run.dir="$OUT/main_job/autobalance" ;;
  *) echo "stage $STAGE: expected head_to_head or main_job" >&2; exit 2 ;;
esac
