"""`Functional`: Keras' functional model, as every builder returns it, whose TensorFlow
checkpoints find its layers by name.

A plain functional model's tf.train.Checkpoint entries go by each layer's position in the
graph (`net/_operations/3/_kernel`), so a weightless layer that only some builds hold
shifts every layer after it: DualCamNet folds its frames into seconds only above 12
frames, and a 1-s checkpoint did not restore into a 2-s build. This one writes each layer
under its name (`net/layer-conv1/_kernel`), which no other layer changes.

Checkpoints written before still load: when one asks for `_operations`, the positions are
looked up as they were written, which holds for a build of the layout it was written from
(DualCamNet: 12 frames or fewer, or more than 12). Keras' own files (.weights.h5, .keras)
do not go through this.
"""
from __future__ import annotations

import keras

from models.layers import PACKAGE

BY_POSITION = "_operations"  # the functional model's list of layers, as older checkpoints name it
BY_NAME = "layer-"


# Named as Keras' class: a .weights.h5 file addresses a nested model by its class's name
# ("functional"), and avmodel's files written before must find its two there.
@keras.saving.register_keras_serializable(package=PACKAGE)
class Functional(keras.Model):
    """Built as keras.Model(inputs, outputs, name=...). Overrides the two methods TensorFlow's
    Trackable documents for defining and looking up an object's checkpoint dependencies."""

    def _layers_by_name(self) -> dict:
        return {BY_NAME + layer.name: layer for layer in self.layers}

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":  # a SavedModel export keeps Keras' own graph
            del children[BY_POSITION]
            children.update(self._layers_by_name())
        return children

    def _lookup_dependency(self, name, cached_dependencies=None):
        if name.startswith(BY_NAME):
            return self._layers_by_name().get(name)
        # Keras' own dependencies, among them `_operations` for a checkpoint written before,
        # which `_trackable_children` no longer lists.
        return super()._lookup_dependency(name)
