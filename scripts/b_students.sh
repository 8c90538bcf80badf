#!/usr/bin/env bash
# (B) students trained on labels alone (the no-teacher baselines), their recipe
# (trainer/recipes.py): HearNet, SoundNet5 and ResNet50 on 5-s samples, 6 crops per
# recording, Adam 1e-4, 100 epochs.
#   LISTS=data/avia/1_second/lists RUNS=runs scripts/b_students.sh [extra main.py flags]
# ResNet50 starts from ImageNet when RESNET50_WEIGHTS names a local Keras .h5 file;
# SoundNet5 from SoundNet when SOUNDNET_WEIGHTS names soundnet5_final.t7.
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
STATS="$RUNS/hearnet_b_stats.npz"
[ -f "$STATS" ] || "$PYTHON" -m dataloader.stats "$LISTS/training.txt" --preset hearnet_b --out "$STATS"
WEIGHTS=()
[ -n "${RESNET50_WEIGHTS:-}" ] && WEIGHTS+=(--resnet50_weights "$RESNET50_WEIGHTS")
[ -n "${SOUNDNET_WEIGHTS:-}" ] && WEIGHTS+=(--soundnet_weights "$SOUNDNET_WEIGHTS")
for MODEL in HearNet SoundNet5 ResNet50; do
  "$PYTHON" main.py --mode train --recipe b_students --model "$MODEL" --stats_file "$STATS" "${WEIGHTS[@]}" \
    --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" \
    --checkpoint_dir "$RUNS" --exp_name "b_student_$MODEL" "$@"
done
