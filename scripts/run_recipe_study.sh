#!/usr/bin/env bash
# The search-recipe study of issue 29 on one interpolation preset, seeds fixed before running:
#   1. online searches (search=online: the full schedule on the training split, hyper-steps in its
#      last 30 %, the searched model is the final model), power-law family from LA, one candidate
#      per worker: learning gamma and tau (scales_offsets) or gamma alone, tau held at LA's 1 (scales);
#      the richer families of experiments/interpolation/richer_family/, offsets held at LA's: a scale
#      per class (class_scales) or the exponents of the scales and of the loss weights (scales_weights);
#   2. for the candidate that validation chooses (the lower mean validation balanced error of the
#      searched models: scripts/aggregate.py ... --tuning picks it), a retrain on train + validation
#      with its learned loss (loss=learned), the terminal recipe (search=terminal_gamma in one job).
#   bash scripts/run_recipe_study.sh 1 scales_offsets    # stage 1, one worker per candidate
#   bash scripts/run_recipe_study.sh 2 scales            # stage 2 for the chosen candidate
# Trailing key=value pairs apply to every run. EXP (default fashion_mnist_lt_interpolation), SEEDS
# (default 0,1,2,3,4), OUT; resume=true makes a rerun continue an interrupted one.
set -euo pipefail
STAGE=$1
CANDIDATE=$2
shift 2
EXP=${EXP:-fashion_mnist_lt_interpolation}
SEEDS=${SEEDS:-0,1,2,3,4}
OUT=${OUT:-experiments/interpolation/${EXP%_interpolation}/runs/recipes}
case $CANDIDATE in
  scales_offsets) FAMILY=(search.family.parametrization=power_law "search.family.learn=[scales,offsets]") ;;
  scales) FAMILY=(search.family.parametrization=power_law "search.family.learn=[scales]") ;;
  class_scales) FAMILY=(search.family.parametrization=per_class "search.family.learn=[scales]") ;;
  scales_weights) FAMILY=(search.family.parametrization=power_law "search.family.learn=[scales,weights]") ;;
  *) echo "candidate $CANDIDATE: expected scales_offsets, scales, class_scales or scales_weights" >&2; exit 2 ;;
esac
COMMON=(+experiment="$EXP" logger.progress=false resume=true "$@")
run() { python -m autobalance.train "${COMMON[@]}" "$@"; }
for seed in ${SEEDS//,/ }; do
  case $STAGE in
    1) run seed="$seed" search=online search.compare_with=[] search.family.init=la "${FAMILY[@]}" \
         hydra.run.dir="$OUT/online_$CANDIDATE/seed$seed" ;;
    2) run seed="$seed" search=none loss=learned loss.path="$OUT/online_$CANDIDATE/seed$seed/learned_loss.yaml" \
         hydra.run.dir="$OUT/terminal_$CANDIDATE/seed$seed" ;;
    *) echo "stage $STAGE: expected 1 or 2" >&2; exit 2 ;;
  esac
done
