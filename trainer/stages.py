"""The training stages of both papers, each a `keras.Model` with its own `train_step` and `test_step`
(UltraSync's sync stage is in `trainer.sync`).

A stage owns the networks it trains (and a frozen one it learns from), reads the inputs it
needs from the loader's dict by key, and reports its loss terms and accuracy as metrics:

- `SelfSupervised` (A): audio map vs video map, attention-product triplets; batch-all
  triplets for the first `hard_from_epoch` epochs, then batch-hard; optionally plus the
  cross-modal identity loss of the pooled audio and video features, and the agreement of
  the video map with the (fixed) audio map.
- `Transfer` (A): the self-supervised loss of a HearNet embedding against video, plus a
  triplet loss pulling the HearNet embedding towards a frozen DualCamNet's.
- `Supervised`: cross-entropy on logits (the networks already average them over frames).
- `Distiller` (B): a frozen teacher's tempered softmax as soft targets for a student.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from dataloader.config import ACOUSTIC_IMAGE, VIDEO_FRAMES
from dataloader.datasets import ACIVW_SPEC, AVIA_SPEC
from trainer import losses
from trainer.config import DEFAULTS

MAP_GRID = (12, 16)  # (A)'s audio and video maps: DualCamNet pools the 36 x 48 acoustic cells by 3
# The features `outputs` gives per sample, (B, D).
FEATURES = ("audio", "audio_embedding", "video", "attended_video", "logits")


class Share(keras.metrics.Metric):
    """Correct / counted, accumulated over every batch since the last reset (the original
    reported the triplet accuracy of the last batch only). With `global_counts`, every replica
    passes the counts of the whole global batch (of `gathered` samples), which a sum over the
    replicas would count once per replica."""

    def __init__(self, name: str, global_counts: bool = False, **kwargs):
        super().__init__(name=name, **kwargs)
        self.global_counts = global_counts
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, correct, total):
        if not self.global_counts:
            correct, total = across_replicas(correct, "sum"), across_replicas(total, "sum")
        self.correct.assign_add(correct)
        self.total.assign_add(total)

    def result(self):
        return tf.math.divide_no_nan(self.correct, self.total)


def across_replicas(value: tf.Tensor, reduction: str = "mean") -> tf.Tensor:
    """`value` reduced over the replicas of a distributed step. Keras reports replica 0's
    metrics, so every replica must update them with the values of the global batch."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(reduction, value)


def gathered(value: tf.Tensor) -> tf.Tensor:
    """`value` (B, ...) of this replica's samples -> that of the global batch, every
    replica's samples in replica order, so that triplets are mined across replicas.

    The update stays the one-device update of the global batch: every replica computes the
    same global loss L and divides it by the number R of replicas (`_Stage.train_step`);
    all_gather's gradient sums the R replicas' upstream gradients, (1/R) dL/dvalue each, into
    dL/dvalue and gives each replica the rows of its own samples; the optimizer sums what
    those rows give through each replica's networks: dL/dweights, every sample counted once."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_gather(value, axis=0)


def _multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def _correct_predictions(labels: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    hits = tf.equal(tf.argmax(labels, axis=-1), tf.argmax(logits, axis=-1))
    return tf.reduce_sum(tf.cast(hits, tf.float32)), tf.cast(tf.shape(labels)[0], tf.float32)


def recording_ids(data: dict, keys: Sequence[str]) -> tf.Tensor:
    """One int id per sample from one-hot labels (e.g. class and video index): samples share
    an id exactly when they come from the same recording."""
    ids = tf.zeros_like(tf.argmax(data[keys[0]], axis=-1))
    for key in keys:
        ids = ids * data[key].shape[-1] + tf.argmax(data[key], axis=-1)
    return ids


def acoustic_energy(images: tf.Tensor) -> tf.Tensor:
    """(B, T, H, W, C) acoustic images -> their energy (B, H, W): coefficient c0 (a cell's log
    energy) averaged over the frames."""
    return tf.reduce_mean(tf.cast(images, tf.float32)[..., 0], axis=1)


def pooled(maps: tf.Tensor, grid: tuple[int, int]) -> tf.Tensor:
    """(B, H, W) maps averaged over blocks of cells to a coarser `grid` (B, h, w)."""
    factor = (maps.shape[1] // grid[0], maps.shape[2] // grid[1])
    return tf.nn.avg_pool2d(maps[..., None], factor, factor, "VALID")[..., 0]


def _select(data: dict, keys: Sequence[str]):
    """The inputs of a network, in the order of its inputs (loader keys need not match the
    networks' input names)."""
    return data[keys[0]] if len(keys) == 1 else [data[key] for key in keys]


class _Stage(keras.Model):
    """The gradient step every stage shares: its loss plus the weight decay of the networks
    it trains, scaled for mixed precision."""

    trained: tuple[keras.Model, ...] = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        """The stage's own trackers only: Keras' built-in loss tracker, unused by these
        train steps, would share the name "loss" and shadow ours (under a distribution
        strategy it is the one reported)."""
        return [value for name, value in vars(self).items()
                if isinstance(value, keras.metrics.Metric) and not name.startswith("_")]

    def compute_terms(self, data: dict, training: bool) -> tuple[tf.Tensor, dict]:
        raise NotImplementedError

    def regularisation(self) -> tf.Tensor:
        terms = [tf.cast(term, tf.float32) for net in self.trained for term in net.losses]
        return tf.add_n(terms) if terms else tf.constant(0.0)

    def train_step(self, data):
        # Replica gradients are summed across devices, so each replica's loss is divided by
        # their number: the update is then the one-device update of the global batch, whether
        # a replica's loss is the mean over its own samples or, on `gathered` samples, the
        # loss of the global batch itself.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, _ = self.compute_terms(data, training=True)
            total = loss + self.regularisation()
            scaled = self.optimizer.scale_loss(total / replicas)
        variables = [v for net in self.trained for v in net.trainable_variables]
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        self.loss_tracker.update_state(across_replicas(total))
        return self._logs()

    def test_step(self, data):
        loss, _ = self.compute_terms(data, training=False)
        self.loss_tracker.update_state(across_replicas(loss + self.regularisation()))
        return self._logs()

    def _logs(self) -> dict:
        logs = {metric.name: metric.result() for metric in self.metrics}
        if _multi_worker(self.distribute_strategy):
            # Keras (3.6 to 3.15 at least) reduces a multi-worker step's logs with
            # strategy.reduce("MEAN", axis=0), which needs an axis to reduce
            # (keras-team/keras#20585). Every replica holds the global values, so their mean
            # over a length-1 axis is the value itself.
            logs = {name: value[None] for name, value in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras builds a model under a strategy from a first batch, which it gets by
        `strategy.reduce`-ing a distributed batch: that fails for a dict of per-replica
        tensors under MultiWorkerMirroredStrategy (keras-team/keras#20585, still so in 3.15),
        and under any strategy for a batch its replicas split unevenly (the last of an
        evaluation list: 2 + 1 samples). The first replica's part of the batch has the shapes
        the build needs."""
        if iterator is not None and self.distribute_strategy.num_replicas_in_sync > 1:
            for _, _, batches in iterator.enumerate_epoch():  # (begin, end, iterator) in Keras 3.15
                data_batch = tf.nest.map_structure(
                    lambda value: self.distribute_strategy.experimental_local_results(value)[0], next(batches))
                break
            iterator = None
        super()._maybe_symbolic_build(iterator, data_batch)

    def call(self, data, training=False):
        return self.compute_terms(data, training)[1]

    def outputs(self, data: dict, maps: bool = False) -> dict[str, tf.Tensor]:
        """What evaluation and the logs read of a batch, in inference mode: the features of
        each sample (names in FEATURES) and, with `maps`, its maps (B, h, w): the stage's
        own, and the acoustic images' energy whenever the batch holds them."""
        out = self.stage_outputs(data, maps)
        if maps and ACOUSTIC_IMAGE in data:
            out["acoustic_energy"] = acoustic_energy(data[ACOUSTIC_IMAGE])
        return out

    def stage_outputs(self, data: dict, maps: bool) -> dict[str, tf.Tensor]:
        return {"logits": self.compute_terms(data, training=False)[1]["logits"]}

    def pictures(self, data: dict) -> dict[str, tf.Tensor]:
        """The maps (B, h, w) worth looking at over a batch's video frames: the acoustic
        images' energy when the batch holds them."""
        return {"acoustic_energy": acoustic_energy(data[ACOUSTIC_IMAGE])} if ACOUSTIC_IMAGE in data else {}


def redraw_weights(net: keras.Model, seed: int) -> None:
    """Every kernel and bias of `net` drawn again from its layer's initialiser, reseeded."""
    for layer in net.layers:
        for name in ("kernel", "bias"):
            initializer = getattr(layer, f"{name}_initializer", None)
            weight = getattr(layer, name, None)
            if initializer is None or weight is None:
                continue
            config = initializer.get_config()
            if "seed" in config:
                initializer = initializer.__class__.from_config({**config, "seed": seed})
            weight.assign(initializer(weight.shape, weight.dtype))


class SelfSupervised(_Stage):
    def __init__(self, audio_net: keras.Model, video_net: keras.Model, audio_key: str = ACOUSTIC_IMAGE,
                 video_key: str = VIDEO_FRAMES, identity_keys: Sequence[str] = ACIVW_SPEC.identity,
                 margin: float = DEFAULTS.margin, hard_from_epoch: int = DEFAULTS.hard_from_epoch,
                 cross_modal_weight: float = DEFAULTS.cross_modal_weight,
                 cross_modal_scale: float = DEFAULTS.cross_modal_scale,
                 map_agreement_weight: float = DEFAULTS.map_agreement_weight, **kwargs):
        super().__init__(**kwargs)
        self.audio_net, self.video_net = audio_net, video_net
        self.trained = (audio_net, video_net)
        self.audio_key, self.video_key = audio_key, video_key
        self.identity_keys = tuple(identity_keys)
        self.margin, self.hard_from_epoch = margin, hard_from_epoch
        self.cross_modal_weight, self.cross_modal_scale = cross_modal_weight, cross_modal_scale
        self.map_agreement_weight = map_agreement_weight
        self.epoch = tf.Variable(0, trainable=False, dtype=tf.int64, name="epoch")
        self.accuracy = Share("triplet_accuracy", global_counts=True)
        if cross_modal_weight:
            self.cross_modal_loss = keras.metrics.Mean(name="cross_modal_loss")
        if map_agreement_weight:
            self.map_agreement_loss = keras.metrics.Mean(name="map_agreement_loss")

    @staticmethod
    def _map(output: tf.Tensor, grid: tuple[int, int]) -> tf.Tensor:
        """A (B, T, H, W, C) map averaged over frames, or an embedding (B, C) ReLU-tiled
        over the grid (how (A) compares HearNet with the video map)."""
        output = tf.cast(output, tf.float32)
        if output.shape.rank == 5:
            return tf.reduce_mean(output, axis=1)
        return tf.tile(tf.nn.relu(output)[:, None, None, :], [1, grid[0], grid[1], 1])

    def triplet(self, distances: tf.Tensor, positives: tf.Tensor) -> tf.Tensor:
        return tf.cond(
            self.epoch < self.hard_from_epoch,
            lambda: losses.batch_all_triplet_loss(distances, positives, self.margin),
            lambda: losses.batch_hard_triplet_loss(distances, positives, self.margin),
        )

    def maps(self, data: dict, training: bool = False):
        """Audio and video maps (B, H, W, C) of a batch, and the audio network's output."""
        video = self._map(self.video_net(data[self.video_key], training=training), MAP_GRID)
        audio_output = self.audio_net(data[self.audio_key], training=training)
        return self._map(audio_output, tuple(video.shape[1:3])), video, audio_output

    @staticmethod
    def branch_maps(audio: tf.Tensor, video: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Each branch's own map, (B, h, w): the audio map summed over channels, and the
        video map's squares summed over channels (the two the attention a v^2 combines)."""
        # tf.square, as the map agreement has always trained with it: its gradient's last bits
        # differ from those of v * v (`losses.video_attention`), and runs reproduce to the bit.
        return tf.reduce_sum(audio, axis=-1), tf.reduce_sum(tf.square(video), axis=-1)

    def audio_map_energy_correlation(self, data: dict) -> float:
        """Mean over a batch of the Pearson correlation, over the map's cells, between the
        audio map (summed over channels) and the acoustic images' energy (coefficient c0,
        averaged over frames and pooled to the map's grid)."""
        audio = tf.reduce_sum(self.maps(data)[0], axis=-1)
        energy = pooled(acoustic_energy(data[self.audio_key]), tuple(audio.shape[1:3]))

        def standardised(x):
            x = tf.reshape(x, [tf.shape(x)[0], -1])
            x -= tf.reduce_mean(x, axis=1, keepdims=True)
            return tf.math.divide_no_nan(x, tf.norm(x, axis=1, keepdims=True))

        return float(tf.reduce_mean(tf.reduce_sum(standardised(audio) * standardised(energy), axis=1)))

    def orient_audio_map(self, data: dict, seed: int = 0, draws: int = 20, minimum: float = 0.25) -> dict:
        """(A)'s objective cannot tell an audio map that rises with the sound's energy from
        one that falls with it, and training keeps the way the map starts; only a rising map
        makes the attention point at the source. So the audio network's initial weights are
        drawn again (from its own initialisers, seeded from `seed`) until its map rises with
        the energy of `data`'s acoustic images, with a correlation of at least `minimum`,
        at most `draws` times (starts at +0.3 to +0.6 kept rising through training; one
        near 0 may go either way). Returns the correlation reached and how many draws it
        took (0: the first one rose)."""
        correlation, draw = self.audio_map_energy_correlation(data), 0
        while correlation < minimum and draw < draws:
            draw += 1
            redraw_weights(self.audio_net, seed * draws + draw)
            correlation = self.audio_map_energy_correlation(data)
        return {"audio_map_energy_correlation": correlation, "redraws": draw}

    def audio_video_terms(self, data: dict, training: bool):
        """The audio-visual loss: (A)'s triplets, plus, with a `cross_modal_weight`, the
        cross-modal identity loss of the pooled features (the ones kNN uses),
        and with a `map_agreement_weight`, KL(audio map || video map) over the cells: the
        triplets only ask v^2 to keep the audio vector's direction for the positive, which
        a rising audio map constrains at its peak alone, so the video map need not peak
        at the source, and the attention map a v^2 then points at it half the time.

        All of them over the global batch (`gathered`): every replica mines the triplets, and
        matches the identities, of every replica's samples. Returns the distances and
        positives of the global batch, and the audio network's output of this replica's."""
        audio, video, audio_output = self.maps(data, training)
        audio, video = gathered(audio), gathered(video)
        distances = losses.attention_distances(audio, video)
        positives = losses.same_identity(gathered(recording_ids(data, self.identity_keys)))
        loss = self.triplet(distances, positives)
        if self.cross_modal_weight:
            identity = losses.cross_modal_identity_loss(tf.reduce_sum(audio, axis=[1, 2]),
                                                        tf.reduce_sum(video, axis=[1, 2]), positives,
                                                        self.cross_modal_scale)
            self.cross_modal_loss.update_state(across_replicas(identity))
            loss += self.cross_modal_weight * identity
        if self.map_agreement_weight:
            agreement = losses.map_agreement_loss(*self.branch_maps(audio, video))
            self.map_agreement_loss.update_state(across_replicas(agreement))
            loss += self.map_agreement_weight * agreement
        return loss, distances, positives, audio_output

    def stage_outputs(self, data: dict, maps: bool) -> dict[str, tf.Tensor]:
        """`audio` = the audio map summed over the cells and L2-normalised (y_i of the loss),
        `video` likewise of the video map, `attended_video` = a * v^2 of the clip's own maps
        summed over the cells and L2-normalised (x_ii of the loss, (A)'s video feature), and
        with a HearNet (an embedding) `audio_embedding`, the L2-normalised embedding the
        transfer loss compares. Maps: the attention, each branch's map (`branch_maps`), the
        maps themselves as `audio_cells` and `video_cells` (B, h, w, c), and the batch's
        triplet counts as `correct` and `total`."""
        audio, video, audio_output = self.maps(data)
        attended = losses.attended(audio, video)
        out = {"audio": losses.l2_normalise(tf.reduce_sum(audio, axis=[1, 2])),
               "video": losses.l2_normalise(tf.reduce_sum(video, axis=[1, 2])),
               "attended_video": losses.l2_normalise(tf.reduce_sum(attended, axis=[1, 2]))}
        if audio_output.shape.rank == 2:
            out["audio_embedding"] = losses.l2_normalise(tf.cast(audio_output, tf.float32))
        if maps:
            out["attention"] = tf.reduce_sum(attended, axis=-1)
            out["audio_cells"], out["video_cells"] = audio, video
            out["audio_map"], out["video_map"] = self.branch_maps(audio, video)
            positives = losses.same_identity(recording_ids(data, self.identity_keys))
            out["correct"], out["total"] = losses.triplet_counts(losses.attention_distances(audio, video), positives)
        return out

    def pictures(self, data: dict) -> dict[str, tf.Tensor]:
        """Also the audio-visual attention."""
        return {**super().pictures(data), "attention": losses.attention_map(*self.maps(data)[:2])}

    def compute_terms(self, data, training):
        loss, distances, positives, _ = self.audio_video_terms(data, training)
        self.accuracy.update_state(*losses.triplet_counts(distances, positives))
        return loss, {"distances": distances}


class Transfer(SelfSupervised):
    """(1 - alpha) * triplet(HearNet, video) + alpha * triplet(HearNet, frozen DualCamNet)."""

    def __init__(self, audio_net: keras.Model, video_net: keras.Model, teacher: keras.Model,
                 teacher_key: str = ACOUSTIC_IMAGE, audio_key: str = "spectrogram", alpha: float = DEFAULTS.alpha,
                 **kwargs):
        super().__init__(audio_net, video_net, audio_key=audio_key, **kwargs)
        teacher.trainable = False
        self.teacher, self.teacher_key, self.alpha = teacher, teacher_key, alpha
        self.audio_video_loss = keras.metrics.Mean(name="audio_video_loss")
        self.teacher_loss = keras.metrics.Mean(name="teacher_loss")

    def compute_terms(self, data, training):
        audio_video, distances, positives, embedding = self.audio_video_terms(data, training)
        teacher_map = tf.cast(self.teacher(data[self.teacher_key], training=False), tf.float32)
        teacher_embedding = losses.l2_normalise(tf.reduce_sum(tf.reduce_mean(teacher_map, axis=1), axis=[1, 2]))
        teacher_distances = losses.embedding_distances(gathered(losses.l2_normalise(embedding)),
                                                       gathered(teacher_embedding))
        to_teacher = self.triplet(teacher_distances, positives)
        self.audio_video_loss.update_state(across_replicas(audio_video))
        self.teacher_loss.update_state(across_replicas(to_teacher))
        self.accuracy.update_state(*losses.triplet_counts(distances, positives))
        return (1.0 - self.alpha) * audio_video + self.alpha * to_teacher, {"distances": distances}


class Supervised(_Stage):
    def __init__(self, net: keras.Model, input_keys: Sequence[str], label_key: str = ACIVW_SPEC.class_label, **kwargs):
        super().__init__(**kwargs)
        self.net, self.trained = net, (net,)
        self.input_keys, self.label_key = tuple(input_keys), label_key
        self.accuracy = Share("accuracy")

    def compute_terms(self, data, training):
        logits = tf.cast(self.net(_select(data, self.input_keys), training=training), tf.float32)
        labels = tf.cast(data[self.label_key], tf.float32)
        self.accuracy.update_state(*_correct_predictions(labels, logits))
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels, logits)), {"logits": logits}


class Distiller(_Stage):
    """(1 - weight) * CE(labels, student) + weight * soft term of a frozen teacher."""

    def __init__(self, student: keras.Model, teacher: keras.Model, student_keys: Sequence[str],
                 teacher_keys: Sequence[str] = (ACOUSTIC_IMAGE,), label_key: str = AVIA_SPEC.class_label,
                 temperature: float = DEFAULTS.temperature_value, weight: float = DEFAULTS.lambda_value,
                 original: bool = False, **kwargs):
        super().__init__(**kwargs)
        teacher.trainable = False
        self.student, self.teacher, self.trained = student, teacher, (student,)
        self.student_keys, self.teacher_keys = tuple(student_keys), tuple(teacher_keys)
        self.label_key, self.temperature, self.weight, self.original = label_key, temperature, weight, original
        self.accuracy = Share("accuracy")
        self.teacher_accuracy = Share("teacher_accuracy")

    def compute_terms(self, data, training):
        student = tf.cast(self.student(_select(data, self.student_keys), training=training), tf.float32)
        teacher = tf.cast(self.teacher(_select(data, self.teacher_keys), training=False), tf.float32)
        labels = tf.cast(data[self.label_key], tf.float32)
        self.accuracy.update_state(*_correct_predictions(labels, student))
        self.teacher_accuracy.update_state(*_correct_predictions(labels, teacher))
        loss = losses.distillation_loss(labels, student, teacher, self.temperature, self.weight, self.original)
        return loss, {"logits": student}


class TrackEpoch(keras.callbacks.Callback):
    """Keeps a stage's `epoch` variable at the epoch being trained (it switches the triplet
    mining, and it is checkpointed with the model)."""

    def on_epoch_begin(self, epoch, logs=None):
        if hasattr(self.model, "epoch"):
            self.model.epoch.assign(epoch)
