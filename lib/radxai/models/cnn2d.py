"""The VGG16-style chest X-ray pneumonia classifier with depthwise-separable convolutions.

Source: the 2D model of the 3D COVID-19 CT work (Makraduli 2021, section 3: "follows the VGG16
model with the added batch normalization layers and 2D separable convolutions", binary
pneumonia/normal on the pediatric chest X-ray set), itself the widely used Kaggle pneumonia
network; also used here as the multi-label chest X-ray classifier of the VinDr-CXR work
(Chrysoula 2023) with one sigmoid logit per finding.

Architecture (names are the module names to hook; every convolution is 3x3 with same
padding, and every block ends in 2x2 max pooling)::

    block1:  conv1, activation1, conv2, activation2, pool           plain, 64 filters
    block2:  conv1, activation1, conv2, activation2, pool           plain, 128 filters
    block3:  conv{j}, activation{j}, norm{j} for j = 1..3, pool     separable, 256 filters
    block4:  conv{j}, activation{j}, norm{j} for j = 1..3, pool     separable, 512 filters
    pooling: global average pooling -> (N, F)
    classifier: dense1 (1024), activation1, dropout1 (0.7), dense2 (512), activation2,
                dropout2 (0.5), output (num_outputs logits)

Departure from the source: the head starts with global average pooling instead of Flatten,
so that the network accepts any input size and its parameter count does not grow with the
image (Flatten at 224 x 224 alone would need a 25088 x 1024 dense layer). Order and
conventions follow Keras (conv with ReLU, then batch norm with epsilon 1e-3 and momentum 0.99,
Glorot-uniform kernels, zero biases) so that a Keras twin matches.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from radxai.models._common import check_input, scaled
from radxai.models.registry import register

__all__ = ["CNN2D", "SeparableConv2d"]

KERAS_BATCH_NORM_EPSILON = 1e-3
KERAS_BATCH_NORM_MOMENTUM = 0.01
# (base filters, number of convolutions, separable with batch norm?) per block.
BLOCKS = ((64, 2, False), (128, 2, False), (256, 3, True), (512, 3, True))
BASE_DENSE_UNITS = (1024, 512)
# Four 2x2 poolings must leave at least one pixel.
MINIMUM_INPUT_SIZE = 2 ** len(BLOCKS)


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 convolution then pointwise 1x1 convolution: (N, C, H, W) -> (N, F, H, W).

    As Keras's SeparableConv2D with depth multiplier 1: the depthwise step has no bias, the
    pointwise step has one. Submodules ``depthwise`` and ``pointwise``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, F, H, W)."""
        return self.pointwise(self.depthwise(x))


def _block(in_channels: int, filters: int, convolutions: int, separable: bool) -> nn.Sequential:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = in_channels
    for index in range(1, convolutions + 1):
        if separable:
            layers[f"conv{index}"] = SeparableConv2d(channels, filters)
        else:
            layers[f"conv{index}"] = nn.Conv2d(channels, filters, kernel_size=3, padding=1)
        layers[f"activation{index}"] = nn.ReLU(inplace=False)
        if separable:
            layers[f"norm{index}"] = nn.BatchNorm2d(
                filters, eps=KERAS_BATCH_NORM_EPSILON, momentum=KERAS_BATCH_NORM_MOMENTUM
            )
        channels = filters
    layers["pool"] = nn.MaxPool2d(kernel_size=2)
    return nn.Sequential(layers)


@register("cnn2d")
class CNN2D(nn.Module):
    """Chest X-ray classifier: (N, C, H, W) -> (N, num_outputs) logits.

    Arguments:
        width: multiplier of the filters (64, 128, 256, 512) and dense units (1024, 512);
            each becomes round(base * width), at least 1.
        in_channels: C (1 for grey-scale radiographs, 3 for ImageNet-style RGB input).
        num_outputs: 1 for binary (one logit) or K for multi-label (K sigmoid logits, e.g. 8
            for seven VinDr-CXR findings plus "No finding").
        dropout: probabilities of the two dropout layers of the head.

    H and W must be at least 16 (four 2x2 poolings); sizes that are not multiples of 16
    lose their last rows/columns at each pooling, as in Keras.

    Layers to hook, with F = (64, 128, 256, 512) * width and s_i = 2**(i - 1):
        ``block{i}.conv{j}``        conv output before the ReLU, (N, F_i, H / s_i, W / s_i)
                                    (for separable convs also ``.depthwise``/``.pointwise``)
        ``block{i}.activation{j}``  the same after the ReLU (Keras's conv-layer output)
        ``block{i}``                after the pooling, (N, F_i, H / (2 s_i), W / (2 s_i))
    `cam_layer` = ``block4.activation3``, the last convolution's ReLU output,
    (N, 512 * width, H / 8, W / 8); (N, 512, 16, 16) for a 128 x 128 radiograph.
    """

    cam_layer = "block4.activation3"

    def __init__(
        self,
        width: float = 1.0,
        in_channels: int = 1,
        num_outputs: int = 1,
        dropout: tuple[float, float] = (0.7, 0.5),
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        channels = in_channels
        for index, (base, convolutions, separable) in enumerate(BLOCKS, start=1):
            filters = scaled(base, width)
            self.add_module(f"block{index}", _block(channels, filters, convolutions, separable))
            channels = filters
        self.pooling = nn.AdaptiveAvgPool2d(1)
        first_units, second_units = (scaled(units, width) for units in BASE_DENSE_UNITS)
        first_dropout, second_dropout = dropout
        self.classifier = nn.Sequential(
            OrderedDict(
                dense1=nn.Linear(channels, first_units),
                activation1=nn.ReLU(inplace=False),
                dropout1=nn.Dropout(first_dropout),
                dense2=nn.Linear(first_units, second_units),
                activation2=nn.ReLU(inplace=False),
                dropout2=nn.Dropout(second_dropout),
                output=nn.Linear(second_units, num_outputs),
            )
        )
        self._initialise_like_keras()

    def _initialise_like_keras(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) radiographs -> (N, num_outputs) logits."""
        check_input(
            x,
            model="cnn2d",
            channels=self.in_channels,
            spatial_dims=2,
            minimum_size=MINIMUM_INPUT_SIZE,
        )
        features = self.block4(self.block3(self.block2(self.block1(x))))
        return self.classifier(self.pooling(features).flatten(1))
