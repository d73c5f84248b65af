"""The 3D CNN of the 3D COVID-19 CT work, in Keras 3: the twin of `radxai.models.cnn3d.CNN3D`.

Source: Zunair et al. (2020), "Uniformizing techniques to process CT scans with 3D CNNs for
tuberculosis prediction", as published in the Keras example "3D image classification from CT
scans" and used by the 3D COVID-19 work (Makraduli, 2021) for 3D Grad-CAM on MosMedData
volumes. That work explains a Keras model; this module rebuilds it so that the Keras backend of
the explanation engine can be checked against the PyTorch backend on identical weights.

Architecture (the layer names are fixed, so the explanation engine can pick layers by name)::

    volume            Input, (N, D, H, W, C) channels last
    block{i}_conv     Conv3D (kernel 3, ReLU included), filters 64, 64, 128, 256 (times width)
    block{i}_pool     MaxPool3D 2
    block{i}_norm     BatchNormalization (epsilon 1e-3, momentum 0.99)
    pooling           GlobalAveragePooling3D -> (N, F)
    dense             Dense 512 (times width), ReLU
    dropout           Dropout
    output            Dense num_outputs: logits, no sigmoid (like the PyTorch model)

Correspondence with the PyTorch model: Keras's Conv3D applies its ReLU inside the layer, so the
output of ``block{i}_conv`` is the output of ``block{i}.activation`` in `CNN3D`, and
``block4_conv`` (`KERAS_CAM_LAYER`) is the layer of the source work's 3D Grad-CAM, the twin of
``CNN3D.cam_layer``. The weights of ``block{i}_conv``, ``block{i}_norm``, ``dense`` and
``output`` live in ``block{i}.conv``, ``block{i}.norm``, ``classifier.dense`` and
``classifier.output``; `copy_torch_to_keras` and `copy_keras_to_torch` move them across.

Layout: the Keras model is channels last, (N, D, H, W, C), as Keras convolutions expect, while
radxai passes channel-first arrays (N, C, D, H, W) between modules. The Keras backend of the
explanation engine transposes at its own edge with `to_channels_last` / `to_channels_first`;
nothing else in radxai sees a channels-last array.

Keras (and TensorFlow behind it) is imported inside the functions that need it, so importing
this module, or `radxai.models`, stays as fast as importing torch.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from radxai.models._common import scaled
from radxai.models.cnn3d import (
    BASE_DENSE_UNITS,
    BASE_FILTERS,
    KERAS_BATCH_NORM_EPSILON,
    KERAS_BATCH_NORM_MOMENTUM,
    minimum_input_size,
)
from radxai.models.keras_backend import import_keras

if TYPE_CHECKING:
    import keras

__all__ = [
    "KERAS_CAM_LAYER",
    "build_keras_cnn3d",
    "copy_torch_to_keras",
    "copy_keras_to_torch",
    "to_channels_last",
    "to_channels_first",
    "save_keras_cnn3d",
    "load_keras_cnn3d",
]

KERAS_CAM_LAYER = "block4_conv"

# Axis order taking a torch weight to the Keras layout of the same weight:
# Conv3d (out, in, kD, kH, kW) -> Conv3D (kD, kH, kW, in, out); Linear (out, in) -> Dense (in, out).
_CONV_TO_KERAS_AXES = (2, 3, 4, 1, 0)
_DENSE_TO_KERAS_AXES = (1, 0)
_VECTOR_AXES = (0,)


def _weight_pairs() -> list[tuple[str, str, str, str, tuple[int, ...]]]:
    """Every weight of the network as (Keras layer, Keras variable, torch module, torch tensor,
    axes taking the torch layout to the Keras layout)."""
    pairs = []
    for index in range(1, len(BASE_FILTERS) + 1):
        conv, norm = f"block{index}_conv", f"block{index}_norm"
        torch_conv, torch_norm = f"block{index}.conv", f"block{index}.norm"
        pairs += [
            (conv, "kernel", torch_conv, "weight", _CONV_TO_KERAS_AXES),
            (conv, "bias", torch_conv, "bias", _VECTOR_AXES),
            (norm, "gamma", torch_norm, "weight", _VECTOR_AXES),
            (norm, "beta", torch_norm, "bias", _VECTOR_AXES),
            (norm, "moving_mean", torch_norm, "running_mean", _VECTOR_AXES),
            (norm, "moving_variance", torch_norm, "running_var", _VECTOR_AXES),
        ]
    dense_layers = (("dense", "classifier.dense"), ("output", "classifier.output"))
    for keras_layer, torch_module in dense_layers:
        pairs += [
            (keras_layer, "kernel", torch_module, "weight", _DENSE_TO_KERAS_AXES),
            (keras_layer, "bias", torch_module, "bias", _VECTOR_AXES),
        ]
    return pairs


def build_keras_cnn3d(
    input_shape: Sequence[int] = (64, 128, 128),
    width: float = 1.0,
    in_channels: int = 1,
    dropout: float = 0.3,
    num_outputs: int = 1,
    padding: str = "valid",
    seed: int | None = None,
) -> keras.Model:
    """The Keras twin of `CNN3D`: (N, D, H, W, C) volumes -> (N, num_outputs) logits.

    Arguments:
        input_shape: (D, H, W) of the volumes; each axis at least 46 for "valid" padding,
            16 for "same" (`radxai.models.cnn3d.minimum_input_size`).
        width, in_channels, dropout, num_outputs, padding: as for `CNN3D`; the same values
            give the same layers and the same number of parameters (Keras counts the batch
            norm moving mean and variance as non-trainable weights, torch as buffers).
        seed: when given, `keras.utils.set_random_seed(seed)` runs first, so the initial
            weights are reproducible. It seeds Python's, NumPy's and the backend's global
            generators, as Keras offers no per-model seed for the default initialisers.

    The output layer has no activation: the model returns logits, like the PyTorch model, and
    the probability is sigmoid(logit). Kernels are Glorot-uniform and biases zero (Keras
    defaults, which `CNN3D` copies). For a (64, 128, 128) input with valid padding,
    ``block4_conv`` outputs (N, 4, 12, 12, 256 * width) and ``block4_norm``
    (N, 2, 6, 6, 256 * width).
    """
    keras = import_keras()

    minimum = minimum_input_size(padding)
    if len(input_shape) != 3 or any(int(size) < minimum for size in input_shape):
        raise ValueError(
            f"keras_cnn3d expects input_shape (D, H, W) with D, H, W >= {minimum} "
            f"for {padding!r} padding; got {tuple(input_shape)}"
        )
    if seed is not None:
        keras.utils.set_random_seed(seed)
    # Explicit channels_last everywhere: a user's keras.json may say channels_first, and the
    # weight copy assumes the channels-last kernel layout.
    layout = "channels_last"
    inputs = keras.Input(shape=(*(int(size) for size in input_shape), in_channels), name="volume")
    features = inputs
    for index, base in enumerate(BASE_FILTERS, start=1):
        features = keras.layers.Conv3D(
            scaled(base, width),
            kernel_size=3,
            padding=padding,
            activation="relu",
            data_format=layout,
            name=f"block{index}_conv",
        )(features)
        features = keras.layers.MaxPool3D(pool_size=2, data_format=layout, name=f"block{index}_pool")(features)
        features = keras.layers.BatchNormalization(
            axis=-1,
            epsilon=KERAS_BATCH_NORM_EPSILON,
            # cnn3d stores the momentum in torch's convention, the weight of the new batch.
            momentum=1.0 - KERAS_BATCH_NORM_MOMENTUM,
            name=f"block{index}_norm",
        )(features)
    features = keras.layers.GlobalAveragePooling3D(data_format=layout, name="pooling")(features)
    dense_units = scaled(BASE_DENSE_UNITS, width)
    features = keras.layers.Dense(dense_units, activation="relu", name="dense")(features)
    features = keras.layers.Dropout(dropout, name="dropout")(features)
    logits = keras.layers.Dense(num_outputs, name="output")(features)
    model = keras.Model(inputs, logits, name="cnn3d")
    # The explanation engine's default layer, as `CNN3D.cam_layer` is for the PyTorch twin.
    model.cam_layer = KERAS_CAM_LAYER
    return model


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *spatial) -> (N, *spatial, C), e.g. radxai's (N, C, D, H, W) -> Keras's layout."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"expected (N, C, *spatial) with at least one spatial axis; got shape {x.shape}")
    return np.moveaxis(x, 1, -1)


def to_channels_first(x: np.ndarray) -> np.ndarray:
    """(N, *spatial, C) -> (N, C, *spatial), e.g. a Keras activation back to radxai's layout."""
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"expected (N, *spatial, C) with at least one spatial axis; got shape {x.shape}")
    return np.moveaxis(x, -1, 1)


def _matched_weights(
    torch_model: nn.Module, keras_model: keras.Model
) -> list[tuple[keras.Variable, torch.Tensor, tuple[int, ...]]]:
    """Pair every Keras variable with its torch tensor, after checking all of them.

    Every pair is checked before the caller copies anything, so a mismatch leaves both models
    untouched. Raises ValueError naming the layer and both shapes when a weight's shape
    differs (different width, in_channels or num_outputs), when a layer is missing, or when
    the paddings differ.
    """
    pairs = []
    for keras_layer, keras_name, torch_module, torch_name, axes in _weight_pairs():
        variable = getattr(_keras_layer(keras_model, keras_layer), keras_name)
        try:
            tensor = getattr(torch_model.get_submodule(torch_module), torch_name)
        except AttributeError:
            raise ValueError(
                f"torch model has no {torch_module}.{torch_name} (twin of Keras layer "
                f"{keras_layer!r}); expected a radxai.models.cnn3d.CNN3D"
            ) from None
        torch_shape = tuple(tensor.shape)
        keras_shape = tuple(variable.shape)
        if tuple(torch_shape[axis] for axis in axes) != keras_shape:
            raise ValueError(
                f"layer {keras_layer!r} ({keras_name}) does not match torch "
                f"{torch_module}.{torch_name}: torch shape {torch_shape}, Keras shape "
                f"{keras_shape}; build both models with the same width, in_channels and "
                "num_outputs"
            )
        pairs.append((variable, tensor, axes))
    # Padding changes no weight shape, only the outputs, so it needs its own check.
    for index in range(1, len(BASE_FILTERS) + 1):
        keras_padding = _keras_layer(keras_model, f"block{index}_conv").padding
        torch_padding = _padding_name(torch_model.get_submodule(f"block{index}.conv"))
        if keras_padding != torch_padding:
            raise ValueError(
                f"layer 'block{index}_conv': torch padding {torch_padding!r}, Keras padding "
                f"{keras_padding!r}; build both models with the same padding"
            )
    return pairs


def _padding_name(conv: nn.Conv3d) -> str:
    """A torch convolution's padding in Keras's words: "valid" (none), "same" (kernel // 2)."""
    if isinstance(conv.padding, str):
        return conv.padding
    if all(size == 0 for size in conv.padding):
        return "valid"
    if all(size == kernel // 2 for size, kernel in zip(conv.padding, conv.kernel_size)):
        return "same"
    return str(conv.padding)


def _keras_layer(keras_model: keras.Model, name: str) -> keras.Layer:
    """The layer called `name`; ValueError naming it when the model has none."""
    try:
        return keras_model.get_layer(name)
    except ValueError:
        raise ValueError(f"Keras model has no layer {name!r}; expected a model from build_keras_cnn3d") from None


def copy_torch_to_keras(torch_model: nn.Module, keras_model: keras.Model) -> None:
    """Copy every weight of a `CNN3D` into a `build_keras_cnn3d` model of the same shape.

    Conv kernels go from (out, in, kD, kH, kW) to (kD, kH, kW, in, out), dense kernels are
    transposed, and batch norm weight, bias, running_mean and running_var become gamma, beta,
    moving_mean and moving_variance. Afterwards both models give the same logits in inference
    mode on the same volumes (channel first for torch, `to_channels_last` for Keras). Raises
    ValueError (naming the layer and both shapes) before copying anything if they differ.
    """
    for variable, tensor, axes in _matched_weights(torch_model, keras_model):
        array = tensor.detach().cpu().numpy().transpose(axes)
        variable.assign(array.astype(variable.dtype))


def copy_keras_to_torch(keras_model: keras.Model, torch_model: nn.Module) -> None:
    """Copy every weight of a `build_keras_cnn3d` model into a `CNN3D` of the same shape.

    The inverse of `copy_torch_to_keras`, with the same checks and the same guarantee.
    """
    with torch.no_grad():
        for variable, tensor, axes in _matched_weights(torch_model, keras_model):
            array = variable.numpy().transpose(np.argsort(axes))
            tensor.copy_(torch.as_tensor(array, dtype=tensor.dtype, device=tensor.device))


# A fixed time stamp for archive members, so the same weights give the same bytes.
_ARCHIVE_TIME = (1980, 1, 1, 0, 0, 0)


def save_keras_cnn3d(model: keras.Model, path: str | os.PathLike[str], arguments: dict) -> Path:
    """Save a Keras 3D CNN as a byte-reproducible archive; return the path.

    The archive (a zip with fixed member time stamps) holds ``arguments.json`` (the keyword
    arguments of ``build_keras_cnn3d`` that rebuild the network) and one ``.npy`` per weight in
    ``model.get_weights()`` order. Keras's own ``.keras`` format records the time of saving, so
    two identical models would give different files. Written via a temporary file.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("arguments.json", _ARCHIVE_TIME), json.dumps(arguments, sort_keys=True))
        for index, weight in enumerate(model.get_weights()):
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(weight), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"weight_{index:04d}.npy", _ARCHIVE_TIME), buffer.getvalue())
    os.replace(temporary, path)
    return path


def load_keras_cnn3d(path: str | os.PathLike[str]) -> keras.Model:
    """Rebuild and return the Keras 3D CNN saved by ``save_keras_cnn3d``.

    Raises ValueError naming the file if it is not such an archive or its weights do not fit.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            arguments = json.loads(archive.read("arguments.json"))
            names = sorted(name for name in archive.namelist() if name.startswith("weight_"))
            weights = [np.load(io.BytesIO(archive.read(name)), allow_pickle=False) for name in names]
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"{path} is not a radxai Keras 3D CNN archive: {error}") from error
    model = build_keras_cnn3d(**arguments)
    try:
        model.set_weights(weights)
    except ValueError as error:
        raise ValueError(f"{path}: its weights do not fit the network its arguments describe: {error}") from error
    return model
