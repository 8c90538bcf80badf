#!/usr/bin/env bash
# (A) self-supervised pretraining: ResNet18_v1 on video against DualCamHybridNet on acoustic
# images, attention-product triplets (batch-all for 4 epochs, then batch-hard), the paper's
# recipe: batch 64, every 2-s block of every recording once an epoch, 20 epochs, Adam 1e-5.
#   LISTS=data/acivw/lists RUNS=runs scripts/a_self_supervised.sh [extra main.py flags]
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" main.py --mode train --embedding 1 --model_1 ResNet18_v1 --model_2 DualCamHybridNet \
  --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
  --checkpoint_dir "$RUNS" --exp_name a_self_supervised \
  --batch_size 64 --sample_length 2 --total_length 2 --number_of_crops 1 --block_size 1 --num_epochs 20 \
  --learning_rate 1e-5 --margin 0.2 --hard_from_epoch 4 "$@"
"$PYTHON" main.py --mode test --embedding 1 --model_1 ResNet18_v1 --model_2 DualCamHybridNet \
  --test_file "$LISTS/testing.txt" --checkpoint_dir "$RUNS" --exp_name a_self_supervised \
  --batch_size 64 --sample_length 2 "$@"
