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
# As long as the students alone (b_students.sh), so the two compare; the recipe's own is 10.
EPOCHS=${EPOCHS:-100}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
STATS="$RUNS/hearnet_b_stats.npz"
[ -f "$STATS" ] || "$PYTHON" -m dataloader.stats "$LISTS/training.txt" --preset hearnet_b --out "$STATS"
for MODEL in HearNet SoundNet5 ResNet50; do
  "$PYTHON" main.py --mode train --recipe b_distillation --student_model "$MODEL" \
    --teacher_restore_checkpoint "$RUNS/b_teacher/networks/net.weights.h5" --stats_file "$STATS" \
    --acoustic_image_stats "$RUNS/b_teacher/acoustic_image_stats.npz" \
    --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
    --checkpoint_dir "$RUNS" --exp_name "b_distilled_$MODEL" \
    --temperature_value "$TEMPERATURE" --lambda_value "$LAMBDA" --num_epochs "$EPOCHS" "$@"
done
