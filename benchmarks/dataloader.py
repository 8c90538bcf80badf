"""Input pipeline throughput: samples/s of the self-supervised input (video + acoustic
images) and of the HearNet input, for `dataloader.pipeline` and for a naive baseline built
the original way, beside the raw read-and-decompress rate of the same files; and the same
inputs from the decode-once input cache (`dataloader.input_cache`), as every epoch after
the first reads them.

    .venv/bin/python benchmarks/dataloader.py [--recordings 6] [--seconds 10] [--measure 5]

The records (ACIVW, written with `dataloader.schema` into a temporary directory) hold what
the converter writes: 224 x 298 raw frames (smooth images with sensor-like noise, which
GZIP shrinks as little as it does real frames), 36 x 48 x 12 acoustic images, one
microphone. A second set holds the same recordings' audio only (`convert_data.py
--modalities 1`), where decompression no longer dominates. Both inputs use their training
presets (2 s windows, random crops); the baseline reads the same windows.

Baseline, as the original loaders: one sequential TFRecordDataset over the windows' files,
a per-record map without parallel calls that parses and decodes everything the input uses
(all 12 frames to float, acoustic images flipped), a batch of sample_length records per
window, then frames picked by linspace, or librosa's resampling in a py_func, the STFT (the
original's tf.contrib.signal.stft, now tf.signal.stft) and normalisation, all on one
thread. Raw: the same files read and decompressed with a parallel interleave, nothing
parsed; as samples/s, records/s over the records a sample reads.

The cached inputs are measured after their cache is built (its build rate is reported:
the first epoch's cost). cpu_efficiency_over_raw_read is samples per CPU-second over those of
merely reading and inflating the records a sample needs (the GZIP bound).

Rates are the best of alternating rounds, since other work on the machine slows whichever
round it lands in; CPU milliseconds per sample (all threads) are the least, and hardly
depend on that work. The last line is JSON, with the load average at the end.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import logger.quiet  # noqa: E402, F401  (before tensorflow is imported, below)

# isort: split

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dataloader import audio, schema, stats  # noqa: E402
from dataloader.camera import ACOUSTIC_IMAGE_SHAPE, FRAME_SAMPLES, FRAMES_PER_SECOND, SAMPLE_RATE  # noqa: E402
from dataloader.config import DEFAULT_THROUGHPUT, WAVEFORM_RATE, LoaderConfig, Throughput  # noqa: E402
from dataloader.datasets import ACIVW, ACIVW_SPEC  # noqa: E402
from dataloader.pipeline import make_dataset  # noqa: E402
from dataloader.presets import HEARNET_A, SELF_SUPERVISED_A  # noqa: E402
from dataloader.video import RGB_MEAN, frame_indices  # noqa: E402
from dataloader.windows import find_clips, window_dataset  # noqa: E402

BATCH = 16
FRAMES, VIDEO_SHAPE = FRAMES_PER_SECOND, ACIVW_SPEC.record_video_shape


def write_records(root: str, recordings: int, seconds: int, audio_only: bool = False) -> list[str]:
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:VIDEO_SHAPE[0], 0:VIDEO_SHAPE[1]]
    paths = []
    for video in range(1, recordings + 1):
        for second in range(1, seconds + 1):
            t = np.arange(FRAMES)[:, None, None] + FRAMES * second
            scene = 128 + 60 * np.sin(columns / 30.0 + t / 5.0 + video) * np.cos(rows / 25.0)
            frames = scene[..., None] + np.array([0.0, 20.0, -20.0]) + rng.normal(0, 2, (FRAMES, *VIDEO_SHAPE))
            arrays = {"audio_data": rng.normal(0, 2**20, (FRAMES, 1, FRAME_SAMPLES)).astype(np.int32) << 8}
            if not audio_only:
                arrays["acoustic_image"] = rng.standard_normal((FRAMES, *ACOUSTIC_IMAGE_SHAPE)).astype(np.float32)
                arrays["video"] = np.clip(frames, 0, 255).astype(np.uint8)
            example = schema.make_sequence_example(ACIVW, {"classes": video % 10, "location": video}, **arrays)
            path = os.path.join(root, f"class_{video % 10}", f"data_{video:03d}", f"Data_{second:03d}.tfrecord")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            schema.write_record_file(path, example)
            paths.append(path)
    return paths


def baseline_dataset(paths: list[str], config: LoaderConfig, shift: np.ndarray, scale: np.ndarray):
    """The original way: sequential reads, per-record maps without parallelism, librosa."""
    def window_files(window):
        return tf.data.Dataset.from_tensor_slices(window["paths"])

    files = window_dataset(find_clips(paths), config, epochs=None).flat_map(window_files)
    records = tf.data.TFRecordDataset(files, compression_type=schema.COMPRESSION)
    length = config.sample_length

    if "video" in config.inputs:
        def parse(serialized):
            parsed = schema.parse_sequence_example(serialized, ACIVW, ("acoustic_image", "video"))
            frames = tf.cast(parsed["video"], tf.float32) - tf.constant(RGB_MEAN)
            return {"acoustic_image": tf.reverse(parsed["acoustic_image"], axis=[1, 2]), "video": frames}

        picked = frame_indices(config.frames_per_sample, config.num_video_frames)

        def sample(seconds):
            frames = tf.reshape(seconds["video"], [config.frames_per_sample, *VIDEO_SHAPE])
            images = tf.reshape(seconds["acoustic_image"], [config.frames_per_sample, *ACOUSTIC_IMAGE_SHAPE])
            return {"video": tf.gather(frames, picked), "acoustic_image": images}
    else:
        def parse(serialized):
            return {"audio": schema.parse_sequence_example(serialized, ACIVW, ("audio_data",))["audio_data"]}

        def resample(samples):
            waveform = librosa.resample(samples.astype(np.float32) / 2**31, orig_sr=SAMPLE_RATE,
                                        target_sr=WAVEFORM_RATE)
            return (waveform / np.abs(waveform).max()).astype(np.float32)

        def sample(seconds):
            mic0 = tf.reshape(seconds["audio"][:, :, 0, :], [-1])
            waveform = tf.numpy_function(resample, [mic0], tf.float32)
            waveform.set_shape([config.waveform_length])
            magnitude = tf.abs(tf.signal.stft(waveform, config.frame_length, config.frame_step, config.fft_length))
            return {"spectrogram": ((magnitude - shift) / scale)[:, tf.newaxis, :]}

    dataset = records.map(parse).batch(length, drop_remainder=True).map(sample).batch(BATCH, drop_remainder=True)
    # TF 1.x ran this on one thread; today's tf.data would parallelise and pipeline it.
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.experimental_optimization.map_parallelization = False
    options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)


def raw_dataset(paths: list[str]):
    """Records only read and decompressed, as fast as the machine allows."""
    files = tf.data.Dataset.from_tensor_slices(paths).repeat()
    records = files.interleave(lambda path: tf.data.TFRecordDataset(path, compression_type=schema.COMPRESSION),
                               cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    return records.map(tf.strings.length).batch(BATCH)


def rate(dataset, seconds: float) -> tuple[float, float]:
    """(elements per second, CPU milliseconds per element) after the first batch; CPU time
    counts every thread of the process, so other work on the machine hardly changes it."""
    iterator = iter(dataset)
    next(iterator)
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        batch = next(iterator)
        count += int(tf.nest.flatten(batch)[0].shape[0])
    return count / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=10, help="length of each recording")
    parser.add_argument("--measure", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        paths = write_records(os.path.join(root, "all"), args.recordings, args.seconds)
        audio_paths = write_records(os.path.join(root, "audio"), args.recordings, args.seconds, audio_only=True)
        size = sum(os.path.getsize(path) for path in paths) / len(paths)
        print(f"wrote {len(paths)} records of {size / 1e6:.2f} MB and as many of audio only "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        stats_path = os.path.join(root, "stats.npz")
        stats.save_statistics(stats_path, stats.compute_statistics(audio_paths, HEARNET_A))
        hearnet = dataclasses.replace(HEARNET_A, stats_path=stats_path)
        shift, scale = stats.load_normalisation(hearnet)
        cached = Throughput(input_cache=os.path.join(root, "cache"))
        runs = {  # name: (config, records, whether a baseline runs too, throughput)
            "self_supervised": (SELF_SUPERVISED_A, paths, True, DEFAULT_THROUGHPUT),
            "hearnet": (hearnet, paths, True, DEFAULT_THROUGHPUT),
            "hearnet_tfio_resampler": (dataclasses.replace(hearnet, resampler="tfio"), paths, False,
                                       DEFAULT_THROUGHPUT),
            "hearnet_audio_only_records": (hearnet, audio_paths, True, DEFAULT_THROUGHPUT),
            "self_supervised_input_cache": (SELF_SUPERVISED_A, paths, False, cached),
            "hearnet_input_cache": (hearnet, paths, False, cached),
        }
        if (tfio_problem := audio.tfio_problem()) is not None:
            print(f"hearnet_tfio_resampler: not measured, tensorflow-io does not load here: {tfio_problem}",
                  file=sys.stderr)
            del runs["hearnet_tfio_resampler"]
        building = {}  # the first epoch of a cached input: every record decoded once and written
        for name, (config, records, _, throughput) in runs.items():
            if throughput.input_cache is not None:
                start, cpu_start = time.perf_counter(), time.process_time()
                make_dataset(records, config, throughput, batch_size=BATCH)
                building[name] = (len(records) / (time.perf_counter() - start),
                                  (time.process_time() - cpu_start) * 1000 / len(records))
                print(f"{name}: cache of {len(records)} records built at {building[name][0]:.1f} records/s, "
                      f"{building[name][1]:.1f} CPU ms each", file=sys.stderr)
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for round_number in range(args.rounds):
            candidates = {"raw_read": raw_dataset(paths)}
            for name, (config, records, with_baseline, throughput) in runs.items():
                candidates[f"{name}_pipeline"] = make_dataset(records, config, throughput, batch_size=BATCH,
                                                              epochs=None)
                if with_baseline:
                    candidates[f"{name}_baseline"] = baseline_dataset(records, config, shift, scale)
            for name, dataset in candidates.items():
                measured, milliseconds = rate(dataset, args.measure)
                best[name] = max(best.get(name, 0.0), measured)
                cpu[name] = min(cpu.get(name, np.inf), milliseconds)
                print(f"round {round_number + 1}: {name}: {measured:.1f}/s, {milliseconds:.1f} CPU ms each",
                      file=sys.stderr)
    length = SELF_SUPERVISED_A.sample_length  # every input here reads 2 records a sample
    raw = best["raw_read"] / length
    result = {"raw_read_samples_per_s": round(raw, 1), "raw_read_cpu_ms_per_sample": round(cpu["raw_read"] * length, 1),
              "record_mb": round(size / 1e6, 2)}
    for name, (_, records, with_baseline, _) in runs.items():
        ours = best[f"{name}_pipeline"]
        result[name] = {"pipeline_samples_per_s": round(ours, 1),
                        "pipeline_cpu_ms_per_sample": round(cpu[f"{name}_pipeline"], 1)}
        if with_baseline:
            result[name].update({"baseline_samples_per_s": round(best[f"{name}_baseline"], 1),
                                 "baseline_cpu_ms_per_sample": round(cpu[f"{name}_baseline"], 1),
                                 "speedup": round(ours / best[f"{name}_baseline"], 2)})
        if records is paths:
            result[name]["fraction_of_raw_read"] = round(ours / raw, 2)
            # Per CPU-second, what a busy machine (or one feeding a GPU) gets.
            result[name]["cpu_efficiency_over_raw_read"] = round(cpu["raw_read"] * length
                                                                 / cpu[f"{name}_pipeline"], 2)
        if name in building:
            result[name].update({"cache_build_records_per_s": round(building[name][0], 1),
                                 "cache_build_cpu_ms_per_record": round(building[name][1], 1)})
    result["cores"] = os.cpu_count()
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
