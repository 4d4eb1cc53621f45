#!/usr/bin/env bash
# Issue 6/7: reproduce the CIFAR-10-LT rows of Table 1 (IB only and Switching, imbalance 100 and
# 50, seed 0, the paper's CIFAR recipe) on one GPU, then time the trainer against the reference
# pipeline, and compact the records for committing.
#
# On the device machine (run from the repository root, the archive carried in .data/):
#   mkdir -p .data && cp ../shared/data/cifar10-jpeg.tar.xz .data/      # here, once
#   PYTHONPATH=. bash scripts/gpu_table1.sh                            # there; carry .data
# CPU dry run (3 epochs on a small subset, about a minute):
#   DRY_RUN=1 PYTHONPATH=. bash scripts/gpu_table1.sh
#
# Environment: ARCHIVE (default .data/cifar10-jpeg.tar.xz), EPOCHS (200), DEVICE (auto),
# OUT (where logs/results go: $OUT on the device tool, else out/gpu_table1), RECORDS
# (experiments/records), DRY_RUN (1: tiny subset, 3 epochs with the switch at epoch 3, imbalance 10, CPU).
set -euo pipefail
ARCHIVE=${ARCHIVE:-.data/cifar10-jpeg.tar.xz}
EPOCHS=${EPOCHS:-200}
DEVICE=${DEVICE:-auto}
OUT=${OUT:-out/gpu_table1}
RECORDS=${RECORDS:-experiments/records}
WORK=${WORK:-/tmp/ltbound_gpu}
mkdir -p "$OUT" "$WORK"
PY=${PYTHON:-python3}

if [ ! -f "$ARCHIVE" ]; then
  echo "gpu_table1.sh: $ARCHIVE not found; copy ../shared/data/cifar10-jpeg.tar.xz there" >&2
  exit 2
fi

DATA="$WORK/cifar10"
EXTRA=()
IMBALANCES=(100 50)
if [ "${DRY_RUN:-0}" = "1" ]; then
  # A small subset of the tree: 60 train / 20 test images per class, imbalance 10, 3 epochs.
  EPOCHS=3; IMBALANCES=(10); RECORDS="$WORK/records"; DEVICE=cpu
  rm -rf "$DATA" "$RECORDS"
  "$PY" -c "from pathlib import Path; from tests._cifar_subset import extract_subset; \
extract_subset(Path('$ARCHIVE'), Path('$DATA'), train_per_class=60, test_per_class=20)"
  EXTRA=(--milestones 1 --warmup-epochs 0 --eval-batch-size 256)
elif [ ! -d "$DATA/train" ]; then
  t0=$(date +%s); mkdir -p "$DATA"; tar -xJf "$ARCHIVE" -C "$DATA"
  echo "extracted $ARCHIVE in $(( $(date +%s) - t0 )) s"
fi
"$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" | tee "$OUT/device.txt"

# Four runs at once: a ResNet-32 at batch 64 uses a few percent of an H100 each.
pids=()
for B in "${IMBALANCES[@]}"; do
  for S in ib switching; do
    name="cifar10-lt-ib${B}-${S}"
    rm -rf "$WORK/runs/$name"
    ( "$PY" -m ltbound.train --dataset cifar10-lt --data-dir "$DATA" --imbalance "$B" \
        --schedule "$S" --seed 0 --epochs "$EPOCHS" --device "$DEVICE" --no-progress "${EXTRA[@]}" \
        --checkpoint-epochs switch,end --out "$WORK/runs/$name" ) > "$OUT/$name.log" 2>&1 &
    pids+=($!)
  done
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ $status -eq 0 ] || { echo "a training run failed; see $OUT/*.log" >&2; tail -n 5 "$OUT"/*.log >&2; }

# Compact records (final-stage losses as float16, correctness as bits) and summarise vs Table 1.
"$PY" experiments/table1_summary.py --runs "$WORK"/runs/* --records "$RECORDS" --json "$OUT/table1_results.json"

# Trainer throughput: fast path vs torchvision-style reference, same device.
if [ "${DRY_RUN:-0}" = "1" ]; then
  "$PY" benchmarks/bench_trainer.py --device cpu --epochs 2 --n-train 256 --json "$OUT/bench_trainer.json"
else
  "$PY" benchmarks/bench_trainer.py --device "$DEVICE" --dataset cifar10-lt --data-dir "$DATA" \
    --imbalance 100 --json "$OUT/bench_trainer.json"
fi
exit $status
