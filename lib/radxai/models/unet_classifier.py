"""U-Net with a classification head, as in the eye-gaze heatmap-generator work.

Source: Watanabe et al., heatmap generators with eye-gaze data (after Karargyris et al.'s
eye-gaze chest X-ray baseline): a U-Net whose encoder bottleneck feeds a classification head
and whose decoder predicts a probability mask trained against the radiologist's eye-gaze
heatmap (both losses binary cross-entropy on logits). The source's encoder is a pretrained
EfficientNet-b0; here it is the plain U-Net encoder of Ronneberger et al. (double 3x3
convolutions with batch norm, 2x max pooling), trained from scratch and scaled by `width`.

Architecture (names are the module names to hook), for spatial_dims 2 (or 3)::

    encoder.level{i}, i = 0..depth-1:  pool (max pool 2, except level 0), convs (double
                                       conv): resolution 1 / 2**i, 64 * 2**i filters
    bottleneck:                        pool, convs: 64 * 2**depth filters
    decoder.level{i}, i = depth-1..0:  upsample (transposed conv x2), concatenation with
                                       encoder.level{i}, convs: 64 * 2**i filters
    mask_head:                         1x1 conv -> one mask logit per pixel
    pooling + classifier:              global average pooling of the bottleneck + Linear -> K

A double conv is ``conv1, norm1, activation1, conv2, norm2, activation2``. Since the
bottleneck is followed only by global average pooling and one linear layer on the
classification path, Grad-CAM equals HiResCAM at ``bottleneck`` for the logits.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from radxai.models._common import check_input, scaled
from radxai.models.registry import register

__all__ = ["UNetOutput", "DoubleConv", "UNetClassifier"]

BASE_FILTERS = 64
_CONVOLUTION = {2: nn.Conv2d, 3: nn.Conv3d}
_TRANSPOSED_CONVOLUTION = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_MAX_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
_AVERAGE_POOL = {2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}


class UNetOutput(NamedTuple):
    """What `UNetClassifier` returns.

    logits: (N, K) classification logits (one sigmoid per class).
    mask_logits: (N, 1, *spatial) mask logits at input resolution.
    """

    logits: torch.Tensor
    mask_logits: torch.Tensor


class DoubleConv(nn.Sequential):
    """Two (3x3 conv, batch norm, ReLU) layers: (N, C, *spatial) -> (N, F, *spatial)."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int) -> None:
        convolution, batch_norm = _CONVOLUTION[spatial_dims], _BATCH_NORM[spatial_dims]
        super().__init__(
            OrderedDict(
                conv1=convolution(in_channels, out_channels, 3, padding=1, bias=False),
                norm1=batch_norm(out_channels),
                activation1=nn.ReLU(inplace=False),
                conv2=convolution(out_channels, out_channels, 3, padding=1, bias=False),
                norm2=batch_norm(out_channels),
                activation2=nn.ReLU(inplace=False),
            )
        )


def _encoder_level(in_channels: int, out_channels: int, spatial_dims: int, pool: bool) -> nn.Sequential:
    """Optional 2x max pool (``pool``), then a double conv (``convs``)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if pool:
        layers["pool"] = _MAX_POOL[spatial_dims](kernel_size=2)
    layers["convs"] = DoubleConv(in_channels, out_channels, spatial_dims)
    return nn.Sequential(layers)


class _DecoderLevel(nn.Module):
    """Upsample by 2, concatenate the encoder's skip features, double conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.upsample = _TRANSPOSED_CONVOLUTION[spatial_dims](in_channels, out_channels, kernel_size=2, stride=2)
        self.convs = DoubleConv(out_channels + skip_channels, out_channels, spatial_dims)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """(N, C, *s) and skip (N, S, *2s) -> (N, F, *2s)."""
        return self.convs(torch.cat([self.upsample(x), skip], dim=1))


@register("unet_classifier")
class UNetClassifier(nn.Module):
    """U-Net with a classification head: (N, C, *spatial) -> UNetOutput(logits, mask_logits).

    Arguments:
        num_classes: K (3 in the eye-gaze work: normal, heart failure, pneumonia).
        in_channels: C.
        depth: number of poolings (3 or 4 usual); every spatial size must be divisible by
            2**depth.
        width: multiplier of the filters 64 * 2**i; each round(base * width), at least 1.
        spatial_dims: 2 for images (N, C, H, W), 3 for volumes (N, C, D, H, W).

    Returns `UNetOutput`: ``logits`` (N, K) and ``mask_logits`` (N, 1, *spatial). To explain
    a class with a method that expects one tensor, target the logits, e.g.
    ``lambda output: output.logits[:, k]``.

    Layers to hook, with F_i = 64 * 2**i * width:
        ``encoder.level{i}``  (N, F_i, *spatial / 2**i)
        ``bottleneck``        (N, F_depth, *spatial / 2**depth); `cam_layer`, the input of
                              the classification head
        ``decoder.level{i}``  (N, F_i, *spatial / 2**i)
        ``mask_head``         (N, 1, *spatial)
    For depth 4 and a 128 x 128 radiograph, ``bottleneck`` is (N, 1024 * width, 8, 8).
    """

    cam_layer = "bottleneck"

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 1,
        depth: int = 4,
        width: float = 1.0,
        spatial_dims: int = 2,
    ) -> None:
        super().__init__()
        if spatial_dims not in _CONVOLUTION:
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.in_channels = in_channels
        self.depth = depth
        self.spatial_dims = spatial_dims
        filters = [scaled(BASE_FILTERS * 2**level, width) for level in range(depth + 1)]
        self.encoder = nn.ModuleDict()
        channels = in_channels
        for level in range(depth):
            self.encoder[f"level{level}"] = _encoder_level(channels, filters[level], spatial_dims, pool=level > 0)
            channels = filters[level]
        self.bottleneck = _encoder_level(channels, filters[depth], spatial_dims, pool=True)
        self.decoder = nn.ModuleDict()
        channels = filters[depth]
        for level in reversed(range(depth)):
            self.decoder[f"level{level}"] = _DecoderLevel(channels, filters[level], filters[level], spatial_dims)
            channels = filters[level]
        self.mask_head = _CONVOLUTION[spatial_dims](channels, 1, kernel_size=1)
        self.pooling = _AVERAGE_POOL[spatial_dims](1)
        self.classifier = nn.Linear(filters[depth], num_classes)

    def forward(self, x: torch.Tensor) -> UNetOutput:
        """(N, C, *spatial) -> UNetOutput(logits (N, K), mask_logits (N, 1, *spatial))."""
        check_input(
            x,
            model="unet_classifier",
            channels=self.in_channels,
            spatial_dims=self.spatial_dims,
            multiple=2**self.depth,
        )
        skips = []
        for level in range(self.depth):
            x = self.encoder[f"level{level}"](x)
            skips.append(x)
        bottleneck = self.bottleneck(x)
        logits = self.classifier(self.pooling(bottleneck).flatten(1))
        x = bottleneck
        for level in reversed(range(self.depth)):
            x = self.decoder[f"level{level}"](x, skips[level])
        return UNetOutput(logits=logits, mask_logits=self.mask_head(x))
