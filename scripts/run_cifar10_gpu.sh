#!/usr/bin/env bash
# The CIFAR-10-LT table on one GPU in one command (issue 45): CIFAR-10-LT rho 100, the LDAM-DRW
# protocol (ResNet-32, batch 128, 200 epochs), ERM, LDAM-DRW, LA, VS and AutoBalance (search +
# retrain), all five side by side on the one GPU with the compiled training step (compile=true:
# CUDA graphs), one log each; then scripts/aggregate.py writes the table (balanced, few-shot and
# worst-class error, images/s and wall time per method) under $OUT. Data: the JPEG copy of CIFAR-10
# (compare with the JPEG reference numbers of ../shared/docs/anchors.md, never with lossless ones).
#   bash scripts/run_cifar10_gpu.sh                       # seed 0, ../shared/data/cifar10-jpeg.tar.gz
#   DATA=... SEED=1 OUT=... bash scripts/run_cifar10_gpu.sh [key=value ...]
# DEVICE=cpu with small overrides is the dry run the slow test tier makes (tests/scripts/).
set -euo pipefail
DATA=${DATA:-../shared/data/cifar10-jpeg.tar.gz}
SEED=${SEED:-0}
OUT=${OUT:-experiments/cifar10_lt_gpu}
DEVICE=${DEVICE:-cuda}
METHODS=(ce ldam_drw la vs autobalance)
if [[ $DEVICE == cuda ]] && ! python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
  echo "run_cifar10_gpu.sh: no CUDA GPU on this machine (torch.cuda.is_available() is false); nothing run" >&2
  exit 2
fi
[[ -e $DATA ]] || { echo "run_cifar10_gpu.sh: no data at DATA=$DATA" >&2; exit 2; }
mkdir -p "$OUT/logs"
echo "CIFAR-10-LT on $DEVICE, seed $SEED: ${METHODS[*]} side by side, compile=true, logs in $OUT/logs."
echo "Expected on one H100: about 6-8 minutes (eager ResNet-32 is launch-bound at 12.5 ms a step, three eager"
echo "runs side by side took 574-582 s each; CUDA graphs remove most launches; AutoBalance runs 1.5 trainings)."
start=$(date +%s)
# Decode the images once, before five processes race to fill the cache.
python -c "import sys; from pathlib import Path; from autobalance.data.sources.cifar import load_cifar; \
load_cifar('cifar10', sys.argv[1], Path('~/.cache/autobalance').expanduser())" "$DATA"
pids=()
for method in "${METHODS[@]}"; do
  case $method in
    autobalance) recipe=(search.compare_with=[]) ;;
    *) recipe=(+baseline="$method") ;;
  esac
  python -m autobalance.train +experiment=cifar10_lt data.path="$DATA" device="$DEVICE" compile=true \
    logger.progress=false seed="$SEED" resume=true "${recipe[@]}" hydra.run.dir="$OUT/runs/$method" "$@" \
    > "$OUT/logs/$method.log" 2>&1 &
  pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${METHODS[$i]} (see $OUT/logs/${METHODS[$i]}.log)")
done
echo "all runs ended after $(( $(date +%s) - start )) s"
if (( ${#failed[@]} )); then
  echo "run_cifar10_gpu.sh: failed: ${failed[*]}" >&2
  exit 1
fi
python scripts/aggregate.py "$OUT/runs" --out "$OUT"
