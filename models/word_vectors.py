"""Word vectors from a local word2vec file, text or binary (gensim reads both), as the rows
of a vocabulary's embedding: (C) started from word2vec's 300-d GoogleNews vectors. Nothing
is downloaded: the user gives the file.

A vocabulary word the file lacks starts as a random vector of the file's own scale (normal,
with the standard deviation of the vectors found), the padding row as zeros."""
from __future__ import annotations

import numpy as np

from models.caption_alignment import PADDING, UNKNOWN


def _is_binary(path: str) -> bool:
    """Whether a word2vec file is the binary format: after the "count size" header, a text file
    holds lines of UTF-8, a binary one raw float32 bytes, which do not decode as UTF-8."""
    with open(path, "rb") as file:
        file.readline()
        body = file.read(1 << 16)
    try:
        body[:body.rfind(b"\n") + 1 if len(body) == 1 << 16 else len(body)].decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def read_word2vec(path: str):
    """gensim's KeyedVectors of a word2vec file, text or binary (told apart by `_is_binary`); a
    ValueError naming the file when it is unreadable, malformed or not finite."""
    from gensim.models import KeyedVectors

    try:
        binary = _is_binary(path)
        vectors = KeyedVectors.load_word2vec_format(path, binary=binary)
    except OSError as err:
        raise ValueError(f"{path}: unreadable ({err})") from None
    except (ValueError, UnicodeDecodeError, EOFError, IndexError) as err:
        raise ValueError(f"{path}: not a word2vec {'binary' if binary else 'text'} file ({err})") from None
    if not np.isfinite(vectors.vectors).all():
        raise ValueError(f"{path}: vectors that are not finite")
    return vectors


def embedding_rows(path: str, vocabulary: list[str], size: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """(len(vocabulary) + 2, size) float32 rows for the token ids (padding, unknown, then the
    vocabulary's words), and how many words the file has."""
    vectors = read_word2vec(path)
    if vectors.vector_size != size:
        raise ValueError(f"{path}: vectors of {vectors.vector_size} dimensions; the networks embed in {size}")
    found = [word in vectors.key_to_index for word in vocabulary]
    scale = float(np.std(vectors.vectors, dtype=np.float64)) or 1.0
    rows = np.random.default_rng(seed).normal(0.0, scale, (len(vocabulary) + 2, size)).astype(np.float32)
    rows[PADDING] = 0.0
    for index, (word, known) in enumerate(zip(vocabulary, found), start=UNKNOWN + 1):
        if known:
            rows[index] = vectors[word]
    return rows, int(sum(found))
