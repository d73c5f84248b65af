"""Class activation maps: Grad-CAM, HiResCAM, Grad-CAM++, LayerCAM and Score-CAM.

One module per method, each a `BaseCAM` dataclass overriding `BaseCAM.weights_or_map`;
importing this package registers them as "gradcam", "hirescam", "gradcam++", "layercam" and
"scorecam". They work for 2D and 3D layers and for any backend (they compute in numpy on what
the backend captured).
"""

from radxai.explain.cam.base import BaseCAM, CAMContext
from radxai.explain.cam.gradcam import GradCAM
from radxai.explain.cam.gradcampp import GradCAMPlusPlus
from radxai.explain.cam.hirescam import HiResCAM
from radxai.explain.cam.layercam import LayerCAM
from radxai.explain.cam.scorecam import ScoreCAM

__all__ = [
    "BaseCAM",
    "CAMContext",
    "GradCAM",
    "HiResCAM",
    "GradCAMPlusPlus",
    "LayerCAM",
    "ScoreCAM",
]
