"""The input pipeline of every stage: one tf.data pipeline in named phases, as in DMVR.

    read         windows (`dataloader.windows`) -> the window's serialized records, read in
                 time order from its GZIP files, `cycle_length` windows at a time; each file
                 by itself, so a file that does not hold one readable record is named
    parse        all records of a window in one batched parse, of only the features needed
    sample       the frames each input uses (video: `nr_frames` of the window's 12 L)
    decode       bytes -> arrays, only of what was picked
    preprocess   arrays -> network inputs (mirrored if the window says so), labels ->
                 one-hot; static shapes (the ground truth the config asks for is served
                 from the decode phase on, `_decode_truth`)
    batch        `batch_size` samples
    postprocess  functions of whole batches (none by default)

With an input cache (`Throughput.input_cache`), read to decode become one reading of the
window's records' cached tensors (`dataloader.input_cache`, built from these phases, record
by record, the first time); preprocess and what follows run as without.

Parse to preprocess run as one map over windows. Each of those phases is an ordered dict of
named functions `features -> features`, keyed by the input they make; `default_phases`
builds them from a `LoaderConfig`, and a stage changes a sample by adding, replacing or
removing functions, never by copying the pipeline:

    phases = default_phases(config)
    phases["preprocess"]["video"] = my_augmentation
    dataset = make_dataset("lists/training.txt", config, batch_size=64, phases=phases)

Every modality of a sample comes from the same window, whose start (and mirror, with
`mirror`) are the only random draws (made in `dataloader.windows` from the seed and the
epoch), so acoustic images, audio and video cover the same seconds, and the same scene, by
construction.

A bad input fails the iteration with `tf.errors.InvalidArgumentError` whose message holds
the line "PATH: problem", naming the file: a missing, empty, truncated or corrupt record
file, a file of several records, a record whose frames, sizes or labels the loader cannot
use, a record without the ground truth the config asks for. `describe_read_error` finds
that line in the error.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from dataloader import audio, schema, video
from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, SAMPLE_RATE
from dataloader.config import (
    ACTIVITY,
    AUDIO,
    CAPTION,
    DEFAULT_THROUGHPUT,
    FIRST_SECOND,
    MAX_PHRASES,
    OFFSET,
    PHRASE_ACTIVITY,
    PHRASES,
    RECORDING,
    SPECTROGRAM,
    TARGET_SUBJECT,
    VIDEO_FRAMES,
    WAVEFORM,
    WAVEFORM_RATE,
    LoaderConfig,
    Throughput,
)
from dataloader.input_cache import InputCache, cached_video_frames, window_video_indices
from dataloader.normalisation import load_acoustic_image_normalisation, load_normalisation
from dataloader.schema import ACOUSTIC_IMAGE, AUDIO_DATA, FRAMES_PER_RECORD, VIDEO
from dataloader.windows import MIRROR, PATHS, find_clips, first_records, read_list, window_dataset, windows_per_epoch

if TYPE_CHECKING:
    import tensorflow as tf

Features = dict[str, "tf.Tensor"]
Step = Callable[[Features], Features]
PHASES = ("parse", "sample", "decode", "preprocess", "postprocess")
SERIALIZED = "serialized"
AUDIO_FRAMES = "audio_frames"  # int32 (12 L, mics, 1024), as the records hold it
FRAME_BYTES = {m: schema.SEQUENCE_KEYS[m] for m in schema.MODALITIES}
# The record keys of the ground truth each served name is made from.
TRUTH_KEYS_OF = {ACTIVITY: (schema.TRUTH_ACTIVITY,),
                 PHRASE_ACTIVITY: (schema.TRUTH_PHRASE_ACTIVITY, schema.TRUTH_PHRASES),
                 OFFSET: (schema.TRUTH_OFFSET,), CAPTION: (schema.TRUTH_CAPTION,),
                 TARGET_SUBJECT: (schema.TRUTH_SUBJECT,)}
# What a window's records give frame by frame, and after the cache concatenates; the rest is
# the window's first record's.
FRAME_WISE = (ACOUSTIC_IMAGE, AUDIO_FRAMES, VIDEO_FRAMES, ACTIVITY, PHRASE_ACTIVITY)
PHRASE_COUNTS = "phrase_counts"  # (L,) int64: the phrases of each record of a window
# (no apostrophes in these messages: tf.debugging.Assert escapes them)
NO_TRUTH = ("holds no ground truth; convert the recordings of the simulator (their ground_truth.json, with events) "
            "with convert_data.py, without --no_ground_truth")


# The line that `_assert` puts in an error, wherever TensorFlow's wrapping puts it.
_FAILED_CHECK = re.compile(r"assertion failed: \[(.*)\]$", re.MULTILINE)
# What TensorFlow wraps an op's own message in: lines of graph execution (its header, the
# node's Python stack), and on the message's line the function node, the dataset that ran it, the op.
_WRAPPING_LINE = re.compile(r"$|\s|Graph execution error:|Detected at node |<stack traces unavailable>|Traceback ")
_WRAPPING = re.compile(r"^(\{\{function_node [^}]*\}\}\s*)?(Error in user-defined function passed to .*? "
                       r"transformation with iterator: \S+: )?|\s*\[Op:[^\]]*\].*$")


def _assert(ok: tf.Tensor, paths: tf.Tensor, problem: str | tf.Tensor) -> tf.Operation:
    """Fails unless all of `ok` (one per path) hold, with the line "PATH, PATH: problem" naming
    the paths whose `ok` is false."""
    import tensorflow as tf

    ok, paths = tf.reshape(ok, [-1]), tf.reshape(paths, [-1])
    bad = tf.strings.reduce_join(tf.boolean_mask(paths, tf.logical_not(ok)), separator=", ")
    return tf.debugging.Assert(tf.reduce_all(ok), [tf.strings.join([bad, ": ", problem])])


def _check(ok: tf.Tensor, problem: str, features: Features) -> tf.Operation:
    """A failed check names the window's files it failed for (`ok` holds one value per file)
    or, for a scalar `ok`, the first file: a window's sizes and labels are its first record's."""
    import tensorflow as tf

    paths = features[PATHS]
    if ok.shape.rank == 0:
        ok = tf.concat([[ok], tf.fill(tf.shape(paths[1:]), True)], axis=0)
    return _assert(ok, paths, problem)


def describe_read_error(err: tf.errors.OpError) -> str:
    """One line of an error raised while iterating `make_dataset` (directly or inside Keras),
    for a report without a traceback: "PATH: problem" if one of the loader's checks failed (a
    bad record file, a malformed record), else the first line of the failing op's own message,
    without the function, dataset and op TensorFlow names around it."""
    found = _FAILED_CHECK.search(err.message)
    if found:
        return found.group(1)
    lines = [line for line in err.message.splitlines() if not _WRAPPING_LINE.match(line)]
    return _WRAPPING.sub("", lines[0]) if lines else type(err).__name__


def _record_reader(throughput: Throughput) -> Callable[[tf.Tensor], tf.Tensor]:
    """A record file's path -> its one serialized record; a bad file fails, naming it."""
    import tensorflow as tf

    def read(path: tf.Tensor) -> tf.Tensor:
        record, problem = schema.read_record(path, throughput.read_buffer_bytes)
        with tf.control_dependencies([_assert(tf.equal(problem, ""), path, problem)]):
            return tf.identity(record)

    return read


def _truth_keys(config: LoaderConfig) -> tuple[str, ...]:
    """The ground truth's record keys the config's `truth` is made from."""
    return tuple(key for key in schema.TRUTH_KEYS if any(key in TRUTH_KEYS_OF[name] for name in config.truth))


def _parse(config: LoaderConfig) -> Step:
    import tensorflow as tf

    context_spec = schema.context_spec(config.flavour, config.modalities)
    sequence_spec = schema.sequence_spec(config.modalities)
    truth_keys = _truth_keys(config)
    truth_context = {k: v for k, v in schema.truth_context_spec().items() if k in truth_keys}
    truth_sequence = {k: v for k, v in schema.truth_sequence_spec().items() if k in truth_keys}

    def parse(features: Features) -> Features:
        features = dict(features)
        context, sequences, lengths = tf.io.parse_sequence_example(
            features.pop(SERIALIZED), context_features={**context_spec, **truth_context},
            sequence_features={**sequence_spec, **truth_sequence}, example_names=features[PATHS],
        )
        # Ground truth first: a record without it would fail the checks below less clearly.
        present = [tf.equal(context[key].row_lengths(), 1) for key in schema.TRUTH_SCALARS if key in truth_context]
        present += [tf.greater(lengths[key], 0) for key in truth_sequence]
        checks = [_check(tf.reduce_all(tf.stack(present), axis=0), NO_TRUTH, features)] if present else []
        with tf.control_dependencies(checks):
            checks = [_check(tf.equal(lengths[key], FRAMES_PER_RECORD),
                             f"a record does not hold {FRAMES_PER_RECORD} frames of {key}", features)
                      for key in sequences]
        with tf.control_dependencies(checks):
            for key, frames in sequences.items():
                features[key] = tf.reshape(frames, [config.frames_per_sample])
            for key in truth_context:
                values = context.pop(key)
                if key == schema.TRUTH_PHRASES:  # how many each record of the window has
                    features[PHRASE_COUNTS] = values.row_lengths()
                # The window's first record's: the others are of the same recording.
                features[key] = tf.reshape(values[0], []) if key in schema.TRUTH_SCALARS else values[0]
        features.update({key: value[0] for key, value in context.items()})
        return features

    return parse


def _pick_video_frames(frames: Sequence[int]) -> Step:
    import tensorflow as tf

    indices = tf.constant(frames, tf.int64)

    def pick(features: Features) -> Features:
        key = FRAME_BYTES[VIDEO]
        return {**features, key: tf.gather(features[key], indices)}

    return pick


def _decode_raw(features: Features, modality: str, dtype: tf.DType, frame_shape: list) -> tf.Tensor:
    import tensorflow as tf

    frames = features.pop(FRAME_BYTES[modality])
    frame_bytes = tf.reduce_prod(tf.cast(tf.stack(frame_shape), tf.int32)) * dtype.size
    sizes = ", ".join(schema.SIZE_KEYS[modality])
    # One row per record (every record gives the same number of frames).
    ok = tf.reduce_all(tf.reshape(tf.equal(tf.strings.length(frames), frame_bytes), [tf.size(features[PATHS]), -1]),
                       axis=1)
    with tf.control_dependencies([_check(ok, f"{modality} frames do not have the size of {sizes}", features)]):
        return schema.decode_raw_frames(frames, dtype, frame_shape)


def _decode_acoustic_image(config: LoaderConfig) -> Step:
    import tensorflow as tf

    def decode(features: Features) -> Features:
        features = dict(features)
        sizes = [features.pop(key) for key in schema.SIZE_KEYS[ACOUSTIC_IMAGE]]
        ok = tf.reduce_all(tf.equal(tf.stack(sizes), ACOUSTIC_IMAGE_SHAPE))
        with tf.control_dependencies([_check(ok, f"acoustic images are not {ACOUSTIC_IMAGE_SHAPE}", features)]):
            images = _decode_raw(features, ACOUSTIC_IMAGE, tf.float32, sizes)
        features[ACOUSTIC_IMAGE] = tf.ensure_shape(images, [config.frames_per_sample, *ACOUSTIC_IMAGE_SHAPE])
        return features

    return decode


def _decode_audio(config: LoaderConfig) -> Step:
    import tensorflow as tf

    def decode(features: Features) -> Features:
        features = dict(features)
        mics, samples = (features.pop(key) for key in schema.SIZE_KEYS[AUDIO_DATA])
        ok = tf.logical_and(tf.equal(samples, FRAME_SAMPLES), tf.greater_equal(mics, config.audio_mics))
        problem = f"audio frames are not {FRAME_SAMPLES} samples of at least {config.audio_mics} microphone(s)"
        with tf.control_dependencies([_check(ok, problem, features)]):
            features[AUDIO_FRAMES] = _decode_raw(features, AUDIO_DATA, tf.int32, [mics, samples])
        return features

    return decode


def _decode_video(features: Features) -> Features:
    features = dict(features)
    sizes = [features.pop(key) for key in schema.SIZE_KEYS[VIDEO]]
    features[VIDEO_FRAMES] = schema.decode_video_frames(features.pop(FRAME_BYTES[VIDEO]), *sizes)
    return features


def _truth_rows(features: Features, key: str, columns: tf.Tensor, name: str) -> tf.Tensor:
    """A window's (12 L,) frames of ground truth rows -> float32 (12 L, columns), every
    record's rows checked to hold `columns` values (a scalar, or one per record)."""
    import tensorflow as tf

    frames = features.pop(key)
    lengths = tf.reshape(tf.strings.length(frames), [tf.size(features[PATHS]), -1])
    ok = tf.reduce_all(tf.equal(lengths, 4 * tf.cast(tf.reshape(columns, [-1, 1]), tf.int32)), axis=1)
    with tf.control_dependencies([_check(ok, f"{key} frames do not hold one float32 {name}", features)]):
        return schema.decode_truth_rows(frames)


def _decode_truth(config: LoaderConfig) -> Step:
    """The ground truth's record keys -> the names `config.truth` serves, with static shapes."""
    import tensorflow as tf

    classes = config.spec.num_classes

    def decode(features: Features) -> Features:
        features = dict(features)
        if ACTIVITY in config.truth:
            rows = _truth_rows(features, schema.TRUTH_ACTIVITY, tf.constant(classes),
                               f"for each of the {classes} {config.flavour} classes")
            features[ACTIVITY] = tf.ensure_shape(rows, [config.frames_per_sample, classes])
        if PHRASE_ACTIVITY in config.truth:
            counts = features.pop(PHRASE_COUNTS)
            checks = [
                _check(tf.equal(counts, counts[0]), "holds other phrases than the first record of its window",
                       features),
                _check(counts <= MAX_PHRASES, f"holds more phrases than the loader serves ({MAX_PHRASES}, "
                                              "config.MAX_PHRASES)", features),
            ]
            with tf.control_dependencies(checks):
                rows = _truth_rows(features, schema.TRUTH_PHRASE_ACTIVITY, counts, "for each phrase of its record")
                padding = MAX_PHRASES - tf.cast(counts[0], tf.int32)
                rows = tf.pad(rows, [[0, 0], [0, padding]])
                phrases = tf.pad(features.pop(schema.TRUTH_PHRASES), [[0, padding]], constant_values="")
            features[PHRASE_ACTIVITY] = tf.ensure_shape(rows, [config.frames_per_sample, MAX_PHRASES])
            features[PHRASES] = tf.ensure_shape(phrases, [MAX_PHRASES])
        if OFFSET in config.truth:
            features[OFFSET] = tf.ensure_shape(features.pop(schema.TRUTH_OFFSET), [])
        if CAPTION in config.truth:
            features[CAPTION] = tf.ensure_shape(features.pop(schema.TRUTH_CAPTION), [])
        if TARGET_SUBJECT in config.truth:
            features[TARGET_SUBJECT] = tf.ensure_shape(tf.cast(features.pop(schema.TRUTH_SUBJECT), tf.int32), [])
        return features

    return decode


def _flip_acoustic_images(features: Features) -> Features:
    import tensorflow as tf

    return {**features, ACOUSTIC_IMAGE: tf.reverse(features[ACOUSTIC_IMAGE], axis=[1, 2])}


def _mirror(features: Features) -> Features:
    """The window's mirror draw applied to the acoustic images and the video frames, whose
    third axis is the image's columns."""
    import tensorflow as tf

    features = dict(features)
    mirror = features.pop(MIRROR)
    for key in (ACOUSTIC_IMAGE, VIDEO_FRAMES):
        if key in features:
            value = features[key]
            features[key] = tf.cond(mirror, lambda v=value: tf.reverse(v, axis=[2]), lambda v=value: v)
    return features


def _standardise_acoustic_images(config: LoaderConfig) -> Step:
    mean, std = load_acoustic_image_normalisation(config)

    def standardise(features: Features) -> Features:
        return {**features, ACOUSTIC_IMAGE: (features[ACOUSTIC_IMAGE] - mean) / std}

    return standardise


def _preprocess_video(config: LoaderConfig) -> Step:
    import tensorflow as tf

    shape = [config.num_video_frames, *config.video_size, 3]

    def preprocess(features: Features) -> Features:
        frames = video.resize_and_crop(features[VIDEO_FRAMES], config.video_short_side, config.video_size)
        return {**features, VIDEO_FRAMES: tf.ensure_shape(video.subtract_mean(frames), shape)}

    return preprocess


def _raw_audio(config: LoaderConfig) -> Step:
    import tensorflow as tf

    def raw(features: Features) -> Features:
        frames = features[AUDIO_FRAMES][:, :config.audio_mics, :]
        samples = tf.reshape(tf.transpose(frames, [0, 2, 1]), [config.audio_length, config.audio_mics])
        return {**features, AUDIO: samples}

    return raw


def _waveform(config: LoaderConfig) -> Step:
    import tensorflow as tf

    def waveform(features: Features) -> Features:
        mic0 = tf.reshape(features[AUDIO_FRAMES][:, 0, :], [config.audio_length])
        signal = tf.cast(mic0, tf.float32) / 2.0**31
        resampled = audio.resample(signal, SAMPLE_RATE, WAVEFORM_RATE, config.resampler)
        return {**features, WAVEFORM: audio.peak_normalise(resampled)[:, tf.newaxis]}

    return waveform


def _spectrogram(config: LoaderConfig) -> Step:
    import tensorflow as tf

    shift, scale = load_normalisation(config)
    shape = [config.spectrogram_frames, 1, config.spectrogram_bins]

    def spectrogram(features: Features) -> Features:
        magnitude = audio.spectrogram(features[WAVEFORM][:, 0], config.frame_length, config.frame_step,
                                      config.fft_length)
        if shift is not None:
            magnitude = (magnitude - shift) / scale
        return {**features, SPECTROGRAM: tf.ensure_shape(magnitude[:, tf.newaxis, :], shape)}

    return spectrogram


def _one_hot_labels(config: LoaderConfig) -> Step:
    import tensorflow as tf

    def one_hot(features: Features) -> Features:
        features = dict(features)
        checks = []
        for label in config.labels:
            value = features.pop(label.key)
            in_range = tf.logical_and(value >= 0, value < label.depth)
            checks.append(_check(in_range, f"label {label.key} is outside 0..{label.depth - 1}", features))
            features[label.name] = tf.one_hot(value, label.depth)
        with tf.control_dependencies(checks):
            return {key: tf.identity(value) for key, value in features.items()}

    return one_hot


def _reading_phases(config: LoaderConfig, video_frames: Sequence[int]) -> dict[str, dict[str, Step]]:
    """The phases parse, sample (the window's `video_frames`) and decode of `config`."""
    inputs = set(config.inputs)
    phases: dict[str, dict[str, Step]] = {"parse": {"records": _parse(config)}, "sample": {}, "decode": {}}
    if VIDEO_FRAMES in inputs:
        phases["sample"][VIDEO_FRAMES] = _pick_video_frames(video_frames)
        phases["decode"][VIDEO_FRAMES] = _decode_video
    if ACOUSTIC_IMAGE in inputs:
        phases["decode"][ACOUSTIC_IMAGE] = _decode_acoustic_image(config)
    if inputs & {AUDIO, WAVEFORM, SPECTROGRAM}:
        phases["decode"][AUDIO] = _decode_audio(config)
    if config.truth:
        phases["decode"]["truth"] = _decode_truth(config)
    return phases


def default_phases(config: LoaderConfig) -> dict[str, dict[str, Step]]:
    """The functions of each phase that make `config`'s inputs, in order."""
    inputs = set(config.inputs)
    phases = {**_reading_phases(config, video.frame_indices(config.frames_per_sample, config.num_video_frames)),
              "preprocess": {}, "postprocess": {}}
    if VIDEO_FRAMES in inputs:
        phases["preprocess"][VIDEO_FRAMES] = _preprocess_video(config)
    if ACOUSTIC_IMAGE in inputs:
        if config.flip_acoustic_images:
            phases["preprocess"][ACOUSTIC_IMAGE] = _flip_acoustic_images
        if config.acoustic_image_stats_path:
            phases["preprocess"]["standardise_acoustic_images"] = _standardise_acoustic_images(config)
    if AUDIO in inputs:
        phases["preprocess"][AUDIO] = _raw_audio(config)
    if inputs & {WAVEFORM, SPECTROGRAM}:
        phases["preprocess"][WAVEFORM] = _waveform(config)
    if SPECTROGRAM in inputs:
        phases["preprocess"][SPECTROGRAM] = _spectrogram(config)
    if config.mirror and config.training:
        phases["preprocess"][MIRROR] = _mirror
    phases["preprocess"]["labels"] = _one_hot_labels(config)
    return phases


def _record_decoding(config: LoaderConfig, throughput: Throughput) -> Step:
    """A record file's path -> what the input cache keeps of it: parsed, its frames that a
    window of `config` can pick, decoded, and of its audio the microphones `config` uses."""
    import tensorflow as tf

    one_record = dataclasses.replace(config, sample_length=1, total_length=None, nr_frames=1)
    phases = _reading_phases(one_record, cached_video_frames(config))
    decode = _compose([step for phase in phases.values() for step in phase.values()])
    read = _record_reader(throughput)

    def decoded(path: tf.Tensor) -> Features:
        features = decode({PATHS: path[tf.newaxis], SERIALIZED: read(path)[tf.newaxis]})
        del features[PATHS]
        if AUDIO_FRAMES in features:
            features[AUDIO_FRAMES] = features[AUDIO_FRAMES][:, :config.audio_mics, :]
        return features

    return decoded


def _decode_from_cache(config: LoaderConfig, throughput: Throughput, paths: Sequence[str]) -> Step:
    """The parse, sample and decode phases of a window, read from the input cache of `paths`
    (`dataloader.input_cache`), which is first completed if it is not."""
    import tensorflow as tf

    cache = InputCache.of(throughput.input_cache, paths, config)
    index = cache.index()
    if index is None:
        decode = _record_decoding(config, throughput)
        index = cache.build(lambda missing: tf.data.Dataset.from_tensor_slices(missing).map(
            decode, num_parallel_calls=throughput.parallel_calls, deterministic=True))
    read = cache.reader(index)
    picks = tf.constant(window_video_indices(config)) if VIDEO_FRAMES in config.inputs else None

    def decoded(window: Features) -> Features:
        records = [read(window[PATHS][i]) for i in range(config.sample_length)]
        features = dict(window)
        for name in records[0]:
            features[name] = (tf.concat([record[name] for record in records], axis=0) if name in FRAME_WISE
                              else records[0][name])
        if picks is not None:
            features[VIDEO_FRAMES] = tf.gather(features[VIDEO_FRAMES], picks)
        return features

    return decoded


def output_keys(config: LoaderConfig) -> tuple[str, ...]:
    return (*config.inputs, *(label.name for label in config.labels), *config.truth_outputs, RECORDING, FIRST_SECOND)


def _compose(steps: Sequence[Step]) -> Step:
    def run(features: Features) -> Features:
        for step in steps:
            features = step(features)
        return features

    return run


def record_paths(records: str | os.PathLike | Sequence[str], root: str | os.PathLike | None = None) -> list[str]:
    """A list file's record paths, or the given paths themselves."""
    if isinstance(records, str | os.PathLike):
        return read_list(records, root)
    return [os.path.join(root, path) if root is not None else path for path in records]


def first_record_contents(list_file: str | os.PathLike, root: str | os.PathLike | None, flavour: str, *,
                          truth: bool = False) -> list[dict]:
    """The first record of each recording of a list, in the list's order, parsed without its
    modalities: its labels (and with `truth` its ground truth). A ValueError names a file
    that is not such a record."""
    return [schema.read_record_file(path, flavour, (), truth=truth)
            for path in first_records(record_paths(list_file, root)).values()]


def make_dataset(
    records: str | os.PathLike | Sequence[str],
    config: LoaderConfig,
    throughput: Throughput = DEFAULT_THROUGHPUT,
    *,
    batch_size: int,
    epochs: int | None = 1,
    first_epoch: int = 0,
    root: str | os.PathLike | None = None,
    phases: dict[str, dict[str, Step]] | None = None,
) -> tf.data.Dataset:
    """Batches of dicts (`output_keys(config)` -> tensors) from a list file of records (or
    the record paths themselves; relative paths are relative to `root`).

    `epochs` None repeats forever; training epochs are numbered from `first_epoch`, and the
    crops of epoch e depend only on (config.seed, e). With `throughput.input_cache`, the
    cache of the records is completed first (the records read once), and then only its
    phases preprocess and postprocess are taken from `phases`. `windows.windows_per_epoch` gives the
    samples of one epoch. Iterating it over a bad record file fails with
    `tf.errors.InvalidArgumentError` naming the file (see the module's docstring).
    """
    import tensorflow as tf

    if throughput.cache is not None and config.training:
        raise ValueError("cache keeps the first epoch's samples, but training draws new windows every epoch; "
                         "cache evaluation pipelines only")
    phases = default_phases(config) if phases is None else phases
    deterministic = not config.training if throughput.deterministic is None else throughput.deterministic
    length = config.sample_length
    clips = find_clips(record_paths(records, root), config.total_length)

    keys = output_keys(config)
    dataset = window_dataset(clips, config, epochs, first_epoch)
    if throughput.input_cache is None:
        read_file = _record_reader(throughput)

        def read(window: Features) -> tf.data.Dataset:
            records = tf.data.Dataset.from_tensor_slices(window[PATHS]).map(read_file)
            return tf.data.Dataset.zip((tf.data.Dataset.from_tensors(window),
                                        records.batch(length, drop_remainder=True)))

        per_sample = _compose([step for phase in PHASES[:-1] for step in phases[phase].values()])

        def make_sample(window: Features, serialized: tf.Tensor) -> Features:
            features = per_sample({**window, SERIALIZED: serialized})
            return {key: features[key] for key in keys}

        dataset = dataset.interleave(read, cycle_length=throughput.cycle_length,
                                     num_parallel_calls=throughput.parallel_calls, deterministic=deterministic)
    else:
        from_cache = _compose([_decode_from_cache(config, throughput, [p for clip in clips for p in clip.paths]),
                               *phases["preprocess"].values()])

        def make_sample(window: Features) -> Features:
            features = from_cache(window)
            return {key: features[key] for key in keys}

    dataset = dataset.map(make_sample, num_parallel_calls=throughput.parallel_calls, deterministic=deterministic)
    if throughput.cache is not None:
        dataset = dataset.cache(throughput.cache)
    if throughput.service_address is not None:
        # Samples, not batches: the client batches what every worker made, so an epoch's
        # batches hold the samples of the epoch without the service, and drop the same number.
        dataset = dataset.apply(tf.data.experimental.service.distribute(
            processing_mode=tf.data.experimental.service.ShardingPolicy.DYNAMIC,
            service=throughput.service_address, job_name=throughput.service_job_name,
        ))
    dataset = dataset.batch(batch_size, drop_remainder=config.batch_drops_remainder,
                            num_parallel_calls=throughput.parallel_calls, deterministic=deterministic)
    if phases["postprocess"]:
        dataset = dataset.map(_compose(list(phases["postprocess"].values())),
                              num_parallel_calls=throughput.parallel_calls, deterministic=deterministic)
    if epochs is not None:
        # A known length lets Keras end an epoch on its last batch; without it Keras runs one
        # more step that finds no data, and still counts it in the optimizer's iterations
        # (measured on Keras 3.6 and 3.15: 5 batches of unknown length count 6 iterations).
        samples = windows_per_epoch(clips, config) * epochs  # a batch may hold the end of one epoch and the next
        batches = samples // batch_size if config.batch_drops_remainder else -(-samples // batch_size)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.prefetch(throughput.prefetch)
