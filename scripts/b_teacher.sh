#!/usr/bin/env bash
# (B) the acoustic-image teacher: DualCamHybridNet on 1-s samples, 30 crops per 30-s
# recording, batch 32, Adam 1e-3, 100 epochs.
#   LISTS=data/avia/1_second/lists RUNS=runs scripts/b_teacher.sh [extra main.py flags]
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" main.py --mode train --model DualCamHybridNet \
  --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
  --checkpoint_dir "$RUNS" --exp_name b_teacher \
  --batch_size 32 --learning_rate 1e-3 --num_epochs 100 --sample_length 1 --total_length 30 \
  --number_of_crops 30 "$@"
"$PYTHON" main.py --mode test --model DualCamHybridNet --test_file "$LISTS/testing.txt" \
  --checkpoint_dir "$RUNS" --exp_name b_teacher --batch_size 32 --sample_length 1 "$@"
