"""PyTorch models of the reproduced works, built by name and saved as self-describing checkpoints.

Architectures (one module each; see their docstrings for shapes and the layer names to hook):

- ``"cnn3d"``: `CNN3D`, the Keras 3D CNN of the 3D COVID-19 CT work (Zunair et al.).
- ``"cnn2d"``: `CNN2D`, the VGG16-style pneumonia/multi-label chest X-ray network with
  depthwise-separable convolutions.
- ``"axialnet"`` and ``"bodycam"``: `AxialNet` and `BodyCAM` of the HiResCAM work
  (Draelos & Carin), slice-wise CT classifiers.
- ``"unet_classifier"``: `UNetClassifier`, the eye-gaze work's U-Net with a classification head.

Every model class has a ``cam_layer`` attribute: the name of the layer its source work
explains, whose output is (N, F, *spatial).

    model = build("cnn3d", width=0.25, padding="same")
    save(model, "runs/x/model.pt", epoch=3)
    model = load("runs/x/model.pt")  # same architecture and weights, in eval mode
"""

# The architecture modules are imported for their registrations; their classes are re-exported
# for type checks and docs.
from radxai.models.axialnet import AxialNet, BodyCAM
from radxai.models.checkpoint import CheckpointError, load, read_model_input, save
from radxai.models.cnn2d import CNN2D
from radxai.models.cnn3d import CNN3D
from radxai.models.registry import UnknownArchitectureError, architectures, build, register
from radxai.models.unet_classifier import UNetClassifier, UNetOutput

__all__ = [
    "register",
    "build",
    "architectures",
    "save",
    "load",
    "read_model_input",
    "CheckpointError",
    "UnknownArchitectureError",
    "CNN3D",
    "CNN2D",
    "AxialNet",
    "BodyCAM",
    "UNetClassifier",
    "UNetOutput",
]
