#!/usr/bin/env bash
# The beyond-balanced study of issue 46 (experiments/beyond_balanced/PROTOCOL.md), one method of one
# setting over the seeds, one run after another (start two workers side by side, one thread each):
#   bash scripts/run_beyond_balanced.sh a ce          # setting (a): CVaR of class errors at alpha 0.2
#   bash scripts/run_beyond_balanced.sh a la
#   bash scripts/run_beyond_balanced.sh a learned     # online search on the CVaR objective
#   bash scripts/run_beyond_balanced.sh a group_dro   # Group DRO with the classes as groups
#   bash scripts/run_beyond_balanced.sh a vs gamma=0.1 tau=1.0   # a point of the tuning grid (TUNE=1: seed 0)
#   bash scripts/run_beyond_balanced.sh a adaptive_cost_la step_size=0.3   # Narasimhan-Menon (addendum 2)
#   bash scripts/run_beyond_balanced.sh c learned_map   # the search's offsets as a map of log frequency
#                                                       # and measured difficulty (addendum 3)
#   bash scripts/run_beyond_balanced.sh d learned_map2  # (a) on Letter-LT, 26 classes (addendum 4; the
#                                                       # map with a two-layer part of 4 hidden units)
# Every run holds validation out (train_on_val=false) and ends with the post-hoc stage (offsets
# fitted on validation, a linear map from log frequency and difficulty); the unadjusted and the
# adjusted model are both in metrics.json. EXP (default fashion_mnist_lt_interpolation; letter_lt
# for d, run from a folder holding data/letter: scripts/export_letter.py), SEEDS
# (default 0,1,2,3,4), OUT (default experiments/beyond_balanced/runs); resume=true continues.
set -euo pipefail
SETTING=$1
METHOD=$2
shift 2
EXP=${EXP:-fashion_mnist_lt_interpolation}
SEEDS=${SEEDS:-0,1,2,3,4}
OUT=${OUT:-experiments/beyond_balanced/runs}
case $SETTING in
  a) OBJECTIVE=(objective=worst_class objective.cvar_alpha=0.2) ;;
  b) OBJECTIVE=(objective=balanced_ce data.label_noise.rate=0.4 data.label_noise.classes=largest:3) ;;
  c) OBJECTIVE=(objective=worst_class objective.cvar_alpha=0.2 data.profile=none) ;;
  d) OBJECTIVE=(objective=worst_class objective.cvar_alpha=0.2); EXP=letter_lt ;;
  *) echo "setting $SETTING: expected a, b, c or d" >&2; exit 2 ;;
esac
LABEL=$METHOD
EXTRA=()
case $METHOD in
  ce|la|group_dro|gce) RECIPE=(search=none loss="$METHOD") ;;
  vs) RECIPE=(search=none loss=vs "loss.${1}" "loss.${2}"); LABEL="vs_${1/=/}_${2/=/}"; shift 2 ;;  # no "=" in a path
  adaptive_cost_la) RECIPE=(search=none loss=adaptive_cost_la "loss.${1}"); LABEL="adaptive_cost_la_${1/=/}"; shift ;;
  learned) RECIPE=(search=online search.compare_with=[] search.family.init=la "search.family.learn=[offsets]") ;;
  learned_map) RECIPE=(search=online search.compare_with=[] search.family.init=la "search.family.learn=[offsets]"
                       search.family.parametrization=attributes "search.family.attributes=[log_frequency,difficulty]") ;;
  learned_map2) RECIPE=(search=online search.compare_with=[] search.family.init=la "search.family.learn=[offsets]"
                        search.family.parametrization=attributes "search.family.attributes=[log_frequency,difficulty]"
                        search.family.map_hidden=4) ;;
  *) echo "method $METHOD: expected ce, la, group_dro, gce, vs, adaptive_cost_la, learned, learned_map or learned_map2" >&2
     exit 2 ;;
esac
[[ ${TUNE:-0} == 1 ]] && SEEDS=0 && LABEL="tune/$LABEL"
for seed in ${SEEDS//,/ }; do
  python -m autobalance.train +experiment="$EXP" logger.progress=false resume=true train_on_val=false \
    posthoc.enabled=true posthoc.parametrization=attributes "${OBJECTIVE[@]}" "${RECIPE[@]}" "${EXTRA[@]}" \
    seed="$seed" hydra.run.dir="$OUT/$SETTING/$LABEL/seed$seed" "$@"
done
