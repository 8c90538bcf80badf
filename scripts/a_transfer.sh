#!/usr/bin/env bash
# (A) transfer: HearNet learns from video and from the frozen, self-supervised DualCamNet,
# (1 - alpha) * triplet(HearNet, video) + alpha * triplet(HearNet, DualCamNet), for every
# alpha of the paper. Run scripts/a_self_supervised.sh first; HearNet statistics are
# computed here once.
#   LISTS=data/acivw/lists RUNS=runs scripts/a_transfer.sh [extra main.py flags]
set -euo pipefail
LISTS=${LISTS:?set LISTS to the directory of training/validation/testing.txt}
RUNS=${RUNS:-runs}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
STATS="$RUNS/hearnet_a_stats.npz"
[ -f "$STATS" ] || "$PYTHON" -m dataloader.stats "$LISTS/training.txt" --preset hearnet_a --out "$STATS"
for ALPHA in 0.1 0.3 0.5 0.7 0.9; do
  "$PYTHON" main.py --mode train --recipe a_transfer \
    --acoustic_init_checkpoint "$RUNS/a_self_supervised/networks/audio_net.weights.h5" \
    --acoustic_image_stats "$RUNS/a_self_supervised/acoustic_image_stats.npz" \
    --visual_init_checkpoint "$RUNS/a_self_supervised/networks/video_net.weights.h5" \
    --train_file "$LISTS/training.txt" --valid_file "$LISTS/validation.txt" --stats_file "$STATS" \
    --checkpoint_dir "$RUNS" --exp_name "a_transfer_alpha_$ALPHA" --alpha "$ALPHA" "$@"
done
