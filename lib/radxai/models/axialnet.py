"""AxialNet and BodyCAM: slice-wise CT classifiers of the HiResCAM work.

Source: Draelos & Carin, "Explainable multiple abnormality classification of chest CT volumes"
(AxialNet, section 3.2; BodyCAM, appendix 7.3).

Both networks read a CT volume (N, 1, D, H, W) as a bag of G axial slice groups: D is cut
into G = D / slices_per_group groups of adjacent slices, each group becomes the channels of a
2D image, and a 2D ResNet-style backbone (shared by all slices) followed by custom
convolutions ("conv_reduce") encodes every group. The networks differ only in the head:

- AxialNet (multiple-instance learning): one fully connected layer, shared by all slices,
  maps each slice's flattened (F, h, w) representation to K per-slice scores; the volume's
  score is their mean over slices. `forward_slices` returns the per-slice scores.
- BodyCAM: global average pooling over the whole (G, h, w) feature volume, then one fully
  connected layer: the CAM architecture, for which Grad-CAM equals HiResCAM.

Feature-map layout (the point of this design). After the backbone the slice groups are put
back into the volume: (N * G, C, h, w) is reshaped to (N, G, C, h, w), and the module
``slice_features`` turns that into (N, C, G, h, w). ``conv_reduce`` then applies its 2D
convolutions to every slice as Conv3d layers with kernels (1, 3, 3), which is the same
computation with one weight set shared by all slices. Every layer from ``slice_features`` on
therefore yields a 5D map (N, F, G, h, w), slice groups along the depth axis, which can be
upsampled to (D, H, W) like any volume's map. Layers inside ``backbone`` are per slice,
4D (N * G, C, h, w); do not explain those.

Departures from the paper, both for explanation: the last convolution,
``conv_reduce.conv3``, has no ReLU, so that its output is exactly the representation Z of
the paper's faithfulness proof, followed by nothing but the head (HiResCAM is faithful
there, and for BodyCAM Grad-CAM equals HiResCAM there); and the custom convolutions are
padded, reducing channels but not the grid, so that small inputs keep a usable map.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from radxai.models._common import layout, scaled
from radxai.models.registry import register

__all__ = ["ResidualBlock", "ResNetBackbone", "SlicesToVolume", "AxialNet", "BodyCAM"]

BASE_STAGE_CHANNELS = 64
BASE_REDUCE_CHANNELS = (64, 32, 16)
SLICE_GROUP_SIZES = (1, 3)


class ResidualBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with batch norm plus a shortcut.

    (N, C, H, W) -> (N, F, ceil(H / stride), ceil(W / stride)). Submodules: conv1, norm1,
    activation1, conv2, norm2, shortcut (identity, or 1x1 conv + batch norm when the shape
    changes) and activation2 (after the addition).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.activation1 = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                OrderedDict(
                    conv=nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    norm=nn.BatchNorm2d(out_channels),
                )
            )
        else:
            self.shortcut = nn.Identity()
        self.activation2 = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, F, ceil(H / stride), ceil(W / stride))."""
        residual = self.norm2(self.conv2(self.activation1(self.norm1(self.conv1(x)))))
        return self.activation2(residual + self.shortcut(x))


class ResNetBackbone(nn.Module):
    """A small ResNet: (N, C, H, W) -> (N, F, h, w), h = ceil(H / 2**(stages + 1)).

    stem: 7x7 conv (stride 2) + batch norm + ReLU + 3x3 max pool (stride 2); then
    ``stage{i}`` for i = 1..len(blocks_per_stage), each a sequence ``block{j}`` of
    `ResidualBlock`; stage 1 keeps the resolution, every later stage halves it and doubles
    the channels, starting from 64 * width. blocks_per_stage=(2, 2, 2, 2) is ResNet-18.
    `out_channels` = F and `downsampling` = 2**(stages + 1) describe the output.
    """

    def __init__(self, in_channels: int, blocks_per_stage: Sequence[int], width: float = 1.0) -> None:
        super().__init__()
        if not blocks_per_stage or any(count < 1 for count in blocks_per_stage):
            raise ValueError(
                f"blocks_per_stage needs at least one stage of at least one block, got {tuple(blocks_per_stage)}"
            )
        channels = scaled(BASE_STAGE_CHANNELS, width)
        self.stem = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(in_channels, channels, kernel_size=7, stride=2, padding=3, bias=False),
                norm=nn.BatchNorm2d(channels),
                activation=nn.ReLU(inplace=False),
                pool=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
        )
        for stage, count in enumerate(blocks_per_stage, start=1):
            out_channels = channels if stage == 1 else channels * 2
            # Only the first block of a stage changes resolution and channel count.
            stride = 1 if stage == 1 else 2
            blocks = OrderedDict(block1=ResidualBlock(channels, out_channels, stride))
            for index in range(2, count + 1):
                blocks[f"block{index}"] = ResidualBlock(out_channels, out_channels)
            self.add_module(f"stage{stage}", nn.Sequential(blocks))
            channels = out_channels
        self.stage_count = len(blocks_per_stage)
        self.out_channels = channels
        self.downsampling = 2 ** (self.stage_count + 1)

    def output_size(self, size: int) -> int:
        """Size of one spatial axis of the output for an input axis of `size` pixels."""
        # Every stride-2 layer here (padded 7x7 conv, padded 3x3 pool and conv) maps x to
        # ceil(x / 2).
        for _ in range(self.stage_count + 1):
            size = -(-size // 2)
        return size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, out_channels, output_size(H), output_size(W))."""
        x = self.stem(x)
        for stage in range(1, self.stage_count + 1):
            x = getattr(self, f"stage{stage}")(x)
        return x


class SlicesToVolume(nn.Module):
    """Put per-slice feature maps back into a volume: (N, G, F, h, w) -> (N, F, G, h, w).

    Has no parameters; it exists so that a hook on it sees the feature volume in the
    library's channel-first layout, with slice groups along the depth axis.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, G, F, h, w) -> (N, F, G, h, w)."""
        return x.transpose(1, 2)


class _SliceEncoder(nn.Module):
    """Backbone + ``slice_features`` + ``conv_reduce``: (N, 1, D, H, W) -> (N, F, G, h, w)."""

    def __init__(
        self,
        model_name: str,
        slices_per_group: int,
        width: float,
        blocks_per_stage: Sequence[int],
    ) -> None:
        super().__init__()
        if slices_per_group not in SLICE_GROUP_SIZES:
            raise ValueError(f"slices_per_group must be one of {SLICE_GROUP_SIZES}, got {slices_per_group}")
        self.model_name = model_name
        self.slices_per_group = slices_per_group
        self.backbone = ResNetBackbone(slices_per_group, blocks_per_stage, width)
        self.slice_features = SlicesToVolume()
        channels = self.backbone.out_channels
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for index, base in enumerate(BASE_REDUCE_CHANNELS, start=1):
            filters = scaled(base, width)
            layers[f"conv{index}"] = nn.Conv3d(channels, filters, kernel_size=(1, 3, 3), padding=(0, 1, 1))
            if index < len(BASE_REDUCE_CHANNELS):
                layers[f"activation{index}"] = nn.ReLU(inplace=False)
            channels = filters
        self.conv_reduce = nn.Sequential(layers)
        self.feature_channels = channels

    def _check(self, x: torch.Tensor) -> None:
        expected = f"{layout(3)} with C=1 and D a positive multiple of slices_per_group={self.slices_per_group}"
        valid = (
            isinstance(x, torch.Tensor)
            and x.ndim == 5
            and x.shape[1] == 1
            and x.shape[2] >= self.slices_per_group
            and x.shape[2] % self.slices_per_group == 0
            and x.shape[3] >= 1
            and x.shape[4] >= 1
        )
        if not valid:
            received = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{self.model_name} expects input {expected}; got {received}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, D, H, W) volume -> (N, F, G, h, w) feature volume, G = D / slices_per_group."""
        self._check(x)
        batch_size, _, depth = x.shape[:3]
        groups = depth // self.slices_per_group
        # Adjacent slices of one group become the channels of one 2D image.
        slices = x.reshape(batch_size * groups, self.slices_per_group, *x.shape[3:])
        slice_feature_maps = self.backbone(slices)
        volume = self.slice_features(slice_feature_maps.reshape(batch_size, groups, *slice_feature_maps.shape[1:]))
        return self.conv_reduce(volume)


@register("axialnet")
class AxialNet(_SliceEncoder):
    """AxialNet: (N, 1, D, H, W) -> (N, K) logits, the mean of per-slice scores.

    Arguments:
        slice_size: (H, W) of the input slices; fixed because the shared fully connected
            layer reads a whole flattened slice representation (F * h * w values).
        num_classes: K, the number of abnormalities (one sigmoid logit each).
        slices_per_group: 1, or 3 adjacent slices per group as in the paper; D must be a
            multiple of it.
        width: multiplier of all channel counts (backbone 64..512, conv_reduce 64, 32, 16).
        blocks_per_stage: residual blocks per backbone stage; (2, 2, 2, 2) is ResNet-18,
            fewer stages keep a finer feature grid for small inputs.

    Layers to hook (G = D / slices_per_group, h = ceil(H / 2**(stages + 1)), likewise w):
        ``slice_features``       the backbone output as a volume, (N, C, G, h, w), with
                                 C = 64 * 2**(stages - 1) * width (512 * width for 4 stages)
        ``conv_reduce.conv{i}``  (N, F_i, G, h, w), F = (64, 32, 16) * width
    `cam_layer` = ``conv_reduce.conv3``, Z in the paper, (N, 16 * width, G, h, w).
    ``classifier`` is the shared fully connected layer: (N, G, F * h * w) -> (N, G, K).
    """

    cam_layer = "conv_reduce.conv3"

    def __init__(
        self,
        slice_size: Sequence[int],
        num_classes: int = 1,
        slices_per_group: int = 1,
        width: float = 1.0,
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
    ) -> None:
        super().__init__("axialnet", slices_per_group, width, blocks_per_stage)
        if len(slice_size) != 2 or any(int(size) < 1 for size in slice_size):
            raise ValueError(f"slice_size must be (H, W) with positive sizes, got {slice_size}")
        self.slice_size = (int(slice_size[0]), int(slice_size[1]))
        self.feature_size = tuple(self.backbone.output_size(size) for size in self.slice_size)
        feature_count = self.feature_channels * self.feature_size[0] * self.feature_size[1]
        self.classifier = nn.Linear(feature_count, num_classes)

    def forward_slices(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, D, H, W) volume -> (N, G, K) per-slice-group scores (logits)."""
        if isinstance(x, torch.Tensor) and x.ndim == 5 and tuple(x.shape[3:]) != self.slice_size:
            raise ValueError(
                f"axialnet expects input {layout(3)} with (H, W) = {self.slice_size} "
                f"(its slice_size); got {tuple(x.shape)}"
            )
        features = self.features(x)
        # Each slice's (F, h, w) block is flattened in that order, as z_h in the paper.
        per_slice = features.transpose(1, 2).flatten(2)
        return self.classifier(per_slice)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, D, H, W) volume -> (N, K) logits: per-slice scores averaged over slices."""
        return self.forward_slices(x).mean(dim=1)


@register("bodycam")
class BodyCAM(_SliceEncoder):
    """BodyCAM: (N, 1, D, H, W) -> (N, K) logits by global average pooling + one linear layer.

    Arguments as `AxialNet`, without slice_size: pooling makes any H, W acceptable.

    Layers to hook: as `AxialNet` (``slice_features``, ``conv_reduce.conv{i}``, all 5D
    (N, F, G, h, w)). `cam_layer` = ``conv_reduce.conv3``, (N, 16 * width, G, h, w), is
    followed only by ``pooling`` (mean over G, h, w) and ``classifier`` (Linear F -> K), so
    logit_k - bias_k = sum_f weight_kf * mean(A_f) and Grad-CAM equals HiResCAM there.
    """

    cam_layer = "conv_reduce.conv3"

    def __init__(
        self,
        num_classes: int = 1,
        slices_per_group: int = 1,
        width: float = 1.0,
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
    ) -> None:
        super().__init__("bodycam", slices_per_group, width, blocks_per_stage)
        self.pooling = nn.AdaptiveAvgPool3d(1)
        self.classifier = nn.Linear(self.feature_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, D, H, W) volume -> (N, K) logits."""
        return self.classifier(self.pooling(self.features(x)).flatten(1))
