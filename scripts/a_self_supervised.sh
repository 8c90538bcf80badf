#!/usr/bin/env bash
# (A) self-supervised pretraining: ResNet18_v1 on video against DualCamHybridNet on acoustic
# images, attention-product triplets (batch-all for 4 epochs, then batch-hard), the paper's
# recipe (trainer/recipes.py): batch 64, every 2-s block of every recording once an epoch,
# 20 epochs, Adam 1e-5.
#   LISTS=data/acivw/lists RUNS=runs scripts/a_self_supervised.sh [extra main.py flags]
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" main.py --mode train --recipe a_self_supervised \
  --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
  --checkpoint_dir "$RUNS" --exp_name a_self_supervised "$@"
"$PYTHON" main.py --mode test --recipe a_self_supervised \
  --test_file "$LISTS/testing.txt" --checkpoint_dir "$RUNS" --exp_name a_self_supervised "$@"
