#!/usr/bin/env bash
# (B) the acoustic-image teacher, its recipe (trainer/recipes.py): DualCamHybridNet on 1-s
# samples, 30 crops per 30-s recording, batch 32, Adam 1e-3, 100 epochs.
#   LISTS=data/avia/1_second/lists RUNS=runs scripts/b_teacher.sh [extra main.py flags]
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" main.py --mode train --recipe b_teacher \
  --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
  --checkpoint_dir "$RUNS" --exp_name b_teacher "$@"
"$PYTHON" main.py --mode test --recipe b_teacher --test_file "$LISTS/testing.txt" \
  --checkpoint_dir "$RUNS" --exp_name b_teacher "$@"
