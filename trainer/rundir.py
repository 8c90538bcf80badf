"""The layout of a run's directory, CHECKPOINT_DIR/EXP_NAME, the one place that spells it:

    config.json                   the effective configuration (trainer.config.RunConfig)
    checkpoints/last/             the resumable training state (trainer.checkpoints)
    checkpoints/best/, best.json  the weights of the best validation epoch, and its metric
    checkpoints/*/metrics.json    what main.py --mode test measured with that checkpoint
    networks/ROLE.weights.h5      each network's best weights (what the init flags take)
    logs/                         TensorBoard (unless --tensorboard puts them elsewhere)
    acoustic_image_stats.npz, spectrogram_stats.npz   the run's own input statistics
    vocabulary.txt                the words of a caption_alignment run (trainer.vocabulary)
    evaluation[_random_init].json what evaluate.py measured
A multi-worker run's other workers write into worker_N/ inside it (trainer.distribute).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

CONFIG = "config.json"


@dataclasses.dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def of(cls, checkpoint_dir: str | Path, exp_name: str) -> RunDir:
        return cls(Path(checkpoint_dir) / exp_name)

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best"

    @property
    def best_record(self) -> Path:
        return self.checkpoints / "best.json"

    def network(self, role: str) -> Path:
        return self.path / "networks" / f"{role}.weights.h5"

    def statistics(self, input_name: str) -> Path:
        return self.path / f"{input_name}_stats.npz"

    @property
    def vocabulary(self) -> Path:
        return self.path / "vocabulary.txt"

    def evaluation(self, random_init: bool = False) -> Path:
        return self.path / f"evaluation{'_random_init' if random_init else ''}.json"

    def logs(self, tensorboard: str | None = None, exp_name: str | None = None) -> Path:
        """Where the run's TensorBoard logs go: TENSORBOARD/EXP_NAME, or its own logs/."""
        return Path(tensorboard) / (exp_name or self.path.name) if tensorboard else self.path / "logs"


def metrics_file(checkpoint: str | Path) -> Path:
    """Where main.py --mode test writes what it measured with a checkpoint (a directory or a
    checkpoint's prefix): beside the checkpoint."""
    checkpoint = Path(checkpoint)
    return (checkpoint if checkpoint.is_dir() else checkpoint.parent) / "metrics.json"


def find_run_dir(checkpoint: str | Path) -> RunDir | None:
    """The run holding a checkpoint: the nearest parent with a config.json."""
    for parent in Path(checkpoint).resolve().parents:
        if (parent / CONFIG).is_file():
            return RunDir(parent)
    return None
