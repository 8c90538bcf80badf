"""What a sample is (`LoaderConfig`) and how fast it is made (`Throughput`), kept apart as
in DMVR: changing a throughput knob never changes what a model sees.

Inputs a sample can hold (any subset, all from one time window):
    acoustic_image  float32 (12 L, 36, 48, 12): every frame of the window
    video           float32 (nr_frames, H, W, 3): RGB, ImageNet RGB means subtracted
    audio           int32 (12,288 L, audio_mics): the raw microphone samples at 12,288 Hz
    waveform        float32 (22,050 L, 1): microphone 0 resampled, peak-normalised (SoundNet)
    spectrogram     float32 (T, 1, 257): STFT magnitude of the waveform (HearNet)
where L is `sample_length` in seconds. Labels are one-hot float32 under their loader names
(the `labels` of the flavour's spec, `dataloader.datasets`), and every sample carries
`recording` (its directory, string) and `first_second` (the number s of its first record
`Data_{s:03d}.tfrecord`, int32).

Ground truth a sample can serve (`LoaderConfig.truth`; records converted from simulated
recordings carry it, `dataloader.schema`):
    activity         float32 (12 L, C): how much of each frame each of the flavour's C
                     classes sounds (its spec's `class_names` order), in video time
    phrase_activity  float32 (12 L, MAX_PHRASES): likewise for each phrase of the caption,
                     zero after the recording's P phrases; served with `phrases`
                     (MAX_PHRASES,) string, the phrases, padded with ""
    offset           float32: seconds the audio and the acoustic images lag the video
    caption          string: the recording's caption
    target_subject   int32: AVIA's subject number (its directory's) of the target sound, -1
                     if none (`subject` is already the one-hot label of AVIA's recordings)
Activities cover the window's frames, as every input does; a mirrored sample keeps them as
they are (they say when, not where).
"""
from __future__ import annotations

import dataclasses

from dataloader.camera import SAMPLE_RATE
from dataloader.datasets import ACIVW_SPEC, FLAVOURS, DatasetSpec, Label, dataset_spec
from dataloader.schema import ACOUSTIC_IMAGE, AUDIO_DATA, FRAMES_PER_RECORD, MODALITIES, VIDEO

# Inputs; the acoustic images keep their modality's name (`schema.ACOUSTIC_IMAGE`).
VIDEO_FRAMES, AUDIO = "video", "audio"
WAVEFORM, SPECTROGRAM = "waveform", "spectrogram"
INPUTS = (ACOUSTIC_IMAGE, VIDEO_FRAMES, AUDIO, WAVEFORM, SPECTROGRAM)
MODALITY_OF = {ACOUSTIC_IMAGE: ACOUSTIC_IMAGE, VIDEO_FRAMES: VIDEO, AUDIO: AUDIO_DATA, WAVEFORM: AUDIO_DATA,
               SPECTROGRAM: AUDIO_DATA}
RECORDING, FIRST_SECOND = "recording", "first_second"
# Ground truth.
ACTIVITY, PHRASE_ACTIVITY, PHRASES = "activity", "phrase_activity", "phrases"
OFFSET, CAPTION, TARGET_SUBJECT = "offset", "caption", "target_subject"
TRUTH = (ACTIVITY, PHRASE_ACTIVITY, OFFSET, CAPTION, TARGET_SUBJECT)
MAX_PHRASES = 8  # phrase columns a sample serves; a recording with more fails to load

WAVEFORM_RATE = 22_050
NORMALISATIONS = ("mean_std", "min_max")
RESAMPLERS = ("sinc", "tfio")


@dataclasses.dataclass(frozen=True)
class LoaderConfig:
    """The semantics of a sample.

    Windows: the records of a list are grouped by directory (one recording) and sorted by
    their number s; a clip is a run of consecutive seconds of one recording (normally the
    whole recording), cut into blocks of `total_length` seconds if that is set. A window is
    `sample_length` consecutive seconds inside one clip. With `training`, every epoch draws
    `number_of_crops` window starts per clip, uniformly and independently, from
    (seed, epoch) and shuffles all windows; otherwise the windows are the clip's consecutive
    non-overlapping ones, in list order, and `number_of_crops` is not used.

    Acoustic images: with `acoustic_image_stats_path`, each coefficient is standardised
    with the dataset statistics in that file (`python -m dataloader.stats --input
    acoustic_image`); without, they are fed unscaled, as the originals did.

    Video: `nr_frames` frames (default one per second) picked from the window's 12 L frames
    by `np.linspace(0, 12 L - 1, nr_frames)` truncated to integers; each frame is resized
    (bilinear) so its short side is `video_short_side`, unless it is already, then
    centre-cropped to `video_size`.

    Mirror: with `training` and `mirror`, each window is mirrored left-right with
    probability 1/2, drawn with its start from (seed, epoch): the acoustic images' and the
    video frames' columns together, so both still see the source in the same place (the
    acoustic image covers the camera image, and the video crop is centred on it). A single
    microphone's audio is the same in the mirrored scene; the signals of several are not
    (they would need the array's mirror permutation), so `audio_mics` > 1 cannot be mirrored.

    Audio: `resampler` "sinc" is this package's in-graph polyphase filter, "tfio" the
    tensorflow-io op (20x slower; see `dataloader.audio`). The spectrogram is the STFT
    magnitude as `tf.signal.stft` makes it (periodic Hann window, no end padding), so 2 s at
    step 219 give 200 frames and 5 s at step 220 give 500; `normalisation` "mean_std" (A) or "min_max" (B)
    uses the statistics file at `stats_path` written by `python -m dataloader.stats`.

    Ground truth: `truth` names what of it every sample serves (see the module's docstring);
    a record without ground truth fails the iteration, naming its file.
    """

    flavour: str
    inputs: tuple[str, ...]
    sample_length: int = 1
    total_length: int | None = None
    number_of_crops: int = 1
    training: bool = False
    seed: int = 0
    nr_frames: int | None = None
    video_short_side: int | None = None
    video_size: tuple[int, int] = ACIVW_SPEC.video_size  # ACIVW's by default, whatever the flavour
    flip_acoustic_images: bool = False
    acoustic_image_stats_path: str | None = None
    mirror: bool = False
    audio_mics: int = 1
    resampler: str = "sinc"
    frame_length: int = 440
    frame_step: int = ACIVW_SPEC.spectrogram_step  # likewise
    fft_length: int = 512
    normalisation: str | None = None
    stats_path: str | None = None
    drop_remainder: bool | None = None
    truth: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.flavour not in FLAVOURS:
            problems.append(f"flavour {self.flavour!r} is not one of {FLAVOURS}")
        unknown = [name for name in self.inputs if name not in INPUTS]
        if unknown or not self.inputs or len(set(self.inputs)) != len(self.inputs):
            problems.append(f"inputs must be distinct names among {INPUTS}, got {self.inputs}")
        if self.sample_length < 1 or self.number_of_crops < 1 or self.audio_mics < 1:
            problems.append("sample_length, number_of_crops and audio_mics must be at least 1")
        if self.total_length is not None and self.total_length < self.sample_length:
            problems.append(f"total_length {self.total_length} is shorter than sample_length {self.sample_length}")
        if not 1 <= self.num_video_frames <= self.frames_per_sample:
            problems.append(f"nr_frames must be in 1..{self.frames_per_sample}, got {self.nr_frames}")
        if self.resampler not in RESAMPLERS:
            problems.append(f"resampler {self.resampler!r} is not one of {RESAMPLERS}")
        if self.normalisation not in (None, *NORMALISATIONS):
            problems.append(f"normalisation {self.normalisation!r} is not one of {NORMALISATIONS} or None")
        if self.mirror and AUDIO in self.inputs and self.audio_mics > 1:
            problems.append("mirror cannot mirror the raw signals of several microphones (audio_mics > 1)")
        if any(name not in TRUTH for name in self.truth) or len(set(self.truth)) != len(self.truth):
            problems.append(f"truth must be distinct names among {TRUTH}, got {self.truth}")
        if self.frame_length > self.waveform_length:
            problems.append(f"frame_length {self.frame_length} is longer than the waveform ({self.waveform_length})")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def modalities(self) -> tuple[str, ...]:
        """The record modalities the inputs are made from, in schema order."""
        needed = {MODALITY_OF[name] for name in self.inputs}
        return tuple(m for m in MODALITIES if m in needed)

    @property
    def truth_outputs(self) -> tuple[str, ...]:
        """The names the ground truth is served under (phrase_activity brings its phrases)."""
        return tuple(n for name in self.truth for n in ((name, PHRASES) if name == PHRASE_ACTIVITY else (name,)))

    @property
    def frames_per_sample(self) -> int:
        return FRAMES_PER_RECORD * self.sample_length

    @property
    def num_video_frames(self) -> int:
        return self.sample_length if self.nr_frames is None else self.nr_frames

    @property
    def audio_length(self) -> int:
        return SAMPLE_RATE * self.sample_length

    @property
    def waveform_length(self) -> int:
        return WAVEFORM_RATE * self.sample_length

    @property
    def spectrogram_frames(self) -> int:
        return 1 + (self.waveform_length - self.frame_length) // self.frame_step

    @property
    def spectrogram_bins(self) -> int:
        return self.fft_length // 2 + 1

    @property
    def spec(self) -> DatasetSpec:
        return dataset_spec(self.flavour)

    @property
    def labels(self) -> tuple[Label, ...]:
        return self.spec.labels

    @property
    def batch_drops_remainder(self) -> bool:
        """Training batches have a static size; evaluation keeps every window."""
        return self.training if self.drop_remainder is None else self.drop_remainder


AUTOTUNE = -1  # tf.data.AUTOTUNE, without importing TensorFlow here


@dataclasses.dataclass(frozen=True)
class Throughput:
    """How fast samples are made; none of it changes which samples.

    `cycle_length` windows are read at once, each from its GZIP files in order, by
    `parallel_calls` threads. `input_cache` (a directory) keeps what is decoded of each
    record before any random draw, uncompressed, so that only the first epoch inflates
    records (`dataloader.input_cache`). `cache` ("" for memory, else a file prefix) keeps the
    preprocessed samples of an evaluation pipeline after the first epoch; training windows
    change every epoch, so a training pipeline refuses it. `service_address` sends the
    pipeline to a tf.data service dispatcher ("grpc://host:port"), whose workers split the
    windows among themselves (distributed_epoch), so each is made once per epoch, and batched
    by the client (`service_job_name`: clients of one job share its samples).
    `deterministic` None means deterministic exactly when not training.
    """

    parallel_calls: int = AUTOTUNE
    cycle_length: int = 8
    read_buffer_bytes: int | None = None  # TFRecordDataset's default
    prefetch: int = AUTOTUNE
    input_cache: str | None = None
    cache: str | None = None
    service_address: str | None = None
    service_job_name: str | None = None
    deterministic: bool | None = None


DEFAULT_THROUGHPUT = Throughput()
