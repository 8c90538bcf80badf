"""The words a caption_alignment run knows: its vocabulary file, one word a line, in the
order of their token ids from 2 (0 is padding, 1 a word outside the vocabulary).

The run's own file (`RunDir.vocabulary`) is made from the captions of its training list
when the run starts (every word of them, by falling count, as Keras' TextVectorization
adapts, with its standardisation: lower case, no punctuation), and kept from then on: the
word embedding's rows are these words, so a resumed run, a test and evaluate.py read the
file training wrote, whatever the list holds by then. `--vocabulary FILE` gives one instead
(e.g. a larger run's, or the words of a word-vector file)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from trainer.config import FlagError, RunConfig
from trainer.rundir import RunDir


def _own_file(config: RunConfig) -> str | None:
    if not (config.checkpoint_dir and config.exp_name):
        return None
    return str(RunDir.of(config.checkpoint_dir, config.exp_name).vocabulary)


def vocabulary_settings(config: RunConfig) -> dict:
    """{"vocabulary": the file the run reads}: --vocabulary, which must exist, else the run
    directory's (made when the run starts, `ensure_vocabulary`)."""
    own = _own_file(config)
    if config.vocabulary:
        if config.vocabulary != own and not os.path.isfile(config.vocabulary):
            raise FlagError("vocabulary", f"no such file: {config.vocabulary}")
        return {"vocabulary": config.vocabulary}
    if own is None:
        raise FlagError("vocabulary", "the caption_alignment stage needs the words it knows: give a vocabulary file, "
                                      "or a run directory (--checkpoint_dir and --exp_name) to make one in")
    return {"vocabulary": own}


def list_captions(list_file: str, root: str | None, flavour: str) -> list[str]:
    """The caption of each recording of a list, from its first record (in the list's order)."""
    from dataloader.pipeline import first_record_contents
    from dataloader.schema import TRUTH_CAPTION

    try:
        records = first_record_contents(list_file, root, flavour, truth=True)
    except ValueError as err:
        raise FlagError("train_file", f"{err}: the caption_alignment stage learns from the captions of records "
                                      "converted from simulated recordings with ground truth") from None
    return [record[TRUTH_CAPTION].decode() for record in records]


def make_vocabulary(captions: list[str]) -> list[str]:
    """Every word of the captions, standardised and ordered as TextVectorization's adapt does."""
    import keras

    from models.caption_alignment import STANDARDIZE

    layer = keras.layers.TextVectorization(standardize=STANDARDIZE)
    layer.adapt(captions)
    return [str(word) for word in layer.get_vocabulary(include_special_tokens=False)]


def read_vocabulary(path: str) -> list[str]:
    """The words of a vocabulary file; FlagError naming it when it is empty or malformed."""
    try:
        words = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise FlagError("vocabulary", f"{path}: unreadable ({err})") from None
    for number, word in enumerate(words, start=1):
        if len(word.split()) != 1 or word != word.strip():
            raise FlagError("vocabulary", f"{path}:{number}: {word!r} is not one word")
    if not words:
        raise FlagError("vocabulary", f"{path}: no words")
    if len(set(words)) != len(words):
        raise FlagError("vocabulary", f"{path}: a word appears twice")
    return words


def write_vocabulary(path: str, words: list[str]) -> None:
    """Atomically: a run stopped while writing leaves no half file to be taken for its words."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target.parent, delete=False, suffix=".tmp") as out:
        out.write("".join(f"{word}\n" for word in words))
    os.replace(out.name, target)


def ensure_vocabulary(config: RunConfig, flavour: str) -> list[str]:
    """The run's words (`vocabulary_settings` named the file): its own vocabulary is made from
    its training captions when a training run has none yet; a test or an evaluation needs the
    file training wrote."""
    path = config.vocabulary
    if not os.path.isfile(path):
        if config.mode != "train" or path != _own_file(config):
            raise FlagError("vocabulary", f"{path}: no such file (the run's training writes it; or give one)")
        write_vocabulary(path, make_vocabulary(list_captions(config.train_file, config.data_root, flavour)))
    return read_vocabulary(path)
