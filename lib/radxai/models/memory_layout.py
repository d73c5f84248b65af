"""Channels-last storage of convolution weights, the layout CPU convolution kernels run fastest on.

PyTorch stores a (C_out, C_in, *kernel) weight channels-first by default. oneDNN, which runs
convolutions on the CPU, picks its channels-last kernels when the weight is stored channels-last,
and then keeps the activations channels-last through the network. Measured on the 2-core
reference machine (batch 4; `python -m bench memory_layout`), a training step of the 3D CNN takes
0.52 of its channels-first time and an inference pass 0.43; AxialNet, the 2D CNN and the U-Net
train in 0.75-0.91 and infer in 0.54-0.78 of theirs. Values are unchanged: only the
order of the elements in memory differs, so results agree with the channels-first layout to
floating-point rounding (the kernels sum in another order).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["store_channels_last"]

_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def store_channels_last(model: nn.Module) -> nn.Module:
    """Store every 4D (2D convolution) and 5D (3D convolution) parameter of `model` channels-last.

    Works parameter by parameter, so a model mixing 2D and 3D convolutions (AxialNet's 2D
    slice encoder behind a 3D input) is converted too, where ``model.to(memory_format=...)``
    refuses. A weight with one input channel (the first layer of a single-channel network) is
    channels-last and channels-first at once by its strides; it is laid out explicitly, as
    ``Tensor.contiguous`` would leave it channels-first and the kernels would not switch.
    Returns `model`, changed in place.
    """
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            memory_format = _CHANNELS_LAST.get(parameter.dim())
            if memory_format is not None:
                parameter.data = torch.empty_like(parameter.data, memory_format=memory_format).copy_(parameter.data)
    return model
