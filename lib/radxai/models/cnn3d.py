"""The 3D CNN of the 3D COVID-19 CT work, in PyTorch.

Source: Zunair et al. (2020), "Uniformizing techniques to process CT scans with 3D CNNs for
tuberculosis prediction", as published in the Keras example "3D image classification from CT
scans" and used by Makraduli (2021) for 3D Grad-CAM on MosMedData volumes.

Architecture (names are the module names to hook)::

    block1..block4:  conv (Conv3d, kernel 3, no padding) -> activation (ReLU)
                     -> pool (MaxPool3d 2) -> norm (BatchNorm3d)
                     filters 64, 64, 128, 256 (times `width`)
    pooling:         global average pooling -> (N, F)
    classifier:      dense (Linear 512) -> activation (ReLU) -> dropout (0.3)
                     -> output (Linear -> num_outputs logits)

The order conv -> ReLU -> pool -> batch norm is the Keras example's (its Conv3D carries the
ReLU). Batch norm uses Keras's epsilon 1e-3 and momentum 0.99 (torch momentum 0.01), and the
initialisation is Keras's (Glorot-uniform kernels, zero biases), so a Keras twin of the
network has the same structure, statistics and starting distribution.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from radxai.models._common import check_input, scaled
from radxai.models.registry import register

__all__ = ["CNN3D", "minimum_input_size"]

BASE_FILTERS = (64, 64, 128, 256)
BASE_DENSE_UNITS = 512
# Keras BatchNormalization defaults, in torch's conventions (torch momentum = 1 - Keras momentum).
KERAS_BATCH_NORM_EPSILON = 1e-3
KERAS_BATCH_NORM_MOMENTUM = 0.01
PADDINGS = ("valid", "same")


def _stage_output_size(size: int, padding: str) -> int:
    """Size of one spatial axis after one conv (kernel 3) + max-pool (2) stage."""
    after_conv = size - 2 if padding == "valid" else size
    return after_conv // 2


def minimum_input_size(padding: str = "valid") -> int:
    """Smallest spatial size (per axis) that survives the four conv + pool stages.

    46 for "valid" convolutions (as in the Keras example), 16 for "same".
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    size = 1
    while True:
        remaining = size
        for _ in BASE_FILTERS:
            remaining = _stage_output_size(remaining, padding)
        if remaining >= 1:
            return size
        size += 1


@register("cnn3d")
class CNN3D(nn.Module):
    """Binary (or multi-label) classifier of CT volumes: (N, C, D, H, W) -> (N, num_outputs) logits.

    Arguments:
        width: multiplier of the filters (64, 64, 128, 256) and dense units (512); each
            becomes round(base * width), at least 1. width=1 is the Keras example network.
        in_channels: C, the number of input channels (1 for CT).
        dropout: dropout probability before the output layer.
        num_outputs: number of logits (1 for the binary COVID/normal task).
        padding: "valid" (the Keras example; each spatial axis must be >= 46) or "same"
            (padding 1; axes >= 16), for small volumes such as a (32, 64, 64) smoke profile.

    Layers to hook (F_1..F_4 = 64, 64, 128, 256 times width; stage i maps a spatial size x
    to c(x) = x - 2 for valid padding or x for same padding, then pools it to c(x) // 2):
        ``block{i}.conv``        Conv3d output before the ReLU, (N, F_i, c(x) per axis)
        ``block{i}.activation``  the same after the ReLU: what the Keras example's Conv3D
                                 layer outputs, so ``block4.activation`` is the layer of the
                                 source work's 3D Grad-CAM (`cam_layer`)
        ``block{i}``             after pooling and batch norm, (N, F_i, c(x) // 2 per axis)
    For a (64, 128, 128) volume with valid padding, ``block4.activation`` is
    (N, 256, 4, 12, 12) and ``block4`` is (N, 256, 2, 6, 6); for (32, 64, 64) with same
    padding they are (N, 256, 4, 8, 8) and (N, 256, 2, 4, 4).
    """

    cam_layer = "block4.activation"

    def __init__(
        self,
        width: float = 1.0,
        in_channels: int = 1,
        dropout: float = 0.3,
        num_outputs: int = 1,
        padding: str = "valid",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.minimum_size = minimum_input_size(padding)
        convolution_padding = 0 if padding == "valid" else 1
        channels = in_channels
        for index, base in enumerate(BASE_FILTERS, start=1):
            filters = scaled(base, width)
            block = nn.Sequential(
                OrderedDict(
                    conv=nn.Conv3d(channels, filters, kernel_size=3, padding=convolution_padding),
                    activation=nn.ReLU(inplace=False),
                    pool=nn.MaxPool3d(kernel_size=2),
                    norm=nn.BatchNorm3d(
                        filters,
                        eps=KERAS_BATCH_NORM_EPSILON,
                        momentum=KERAS_BATCH_NORM_MOMENTUM,
                    ),
                )
            )
            self.add_module(f"block{index}", block)
            channels = filters
        self.pooling = nn.AdaptiveAvgPool3d(1)
        dense_units = scaled(BASE_DENSE_UNITS, width)
        self.classifier = nn.Sequential(
            OrderedDict(
                dense=nn.Linear(channels, dense_units),
                activation=nn.ReLU(inplace=False),
                dropout=nn.Dropout(dropout),
                output=nn.Linear(dense_units, num_outputs),
            )
        )
        self._initialise_like_keras()

    def _initialise_like_keras(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv3d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, D, H, W) volumes -> (N, num_outputs) logits."""
        check_input(
            x,
            model="cnn3d",
            channels=self.in_channels,
            spatial_dims=3,
            minimum_size=self.minimum_size,
        )
        features = self.block4(self.block3(self.block2(self.block1(x))))
        return self.classifier(self.pooling(features).flatten(1))
