#!/usr/bin/env bash
# (B) distillation, the run the original never shipped: each student learns from labels and
# from the frozen teacher's tempered softmax (standard Hinton form with the T^2 factor;
# add --distillation_form original for (B)'s code). Run scripts/b_teacher.sh first.
#   LISTS=data/avia/1_second/lists RUNS=runs scripts/b_distillation.sh [extra main.py flags]
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
TEMPERATURE=${TEMPERATURE:-4}
LAMBDA=${LAMBDA:-0.5}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
STATS="$RUNS/hearnet_b_stats.npz"
[ -f "$STATS" ] || "$PYTHON" -m dataloader.stats "$LISTS/training.txt" --preset hearnet_b --out "$STATS"
for MODEL in HearNet SoundNet5 ResNet50; do
  "$PYTHON" main.py --mode train --student_model "$MODEL" --teacher_model DualCamHybridNet \
    --teacher_restore_checkpoint "$RUNS/b_teacher/networks/net.weights.h5" --stats_file "$STATS" \
    --acoustic_image_stats "$RUNS/b_teacher/acoustic_image_stats.npz" \
    --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
    --checkpoint_dir "$RUNS" --exp_name "b_distilled_$MODEL" \
    --temperature_value "$TEMPERATURE" --lambda_value "$LAMBDA" \
    --batch_size 32 --learning_rate 1e-4 --num_epochs 100 --sample_length 5 --total_length 30 \
    --number_of_crops 6 "$@"
done
