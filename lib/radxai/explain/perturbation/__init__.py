"""Perturbation explanations: Kernel SHAP and LIME on segments, and occlusion.

Importing this package registers three methods of `radxai.explain.explain`:
    "kernel_shap"  `kernel_shap.kernel_shap`: Kernel SHAP (shap's KernelExplainer) over
                   segment on/off vectors; every class at once: `kernel_shap_values`.
    "lime"         `lime_segments.lime_on_segments`: LIME (lime's LimeImageExplainer in 2D,
                   LimeBase for volumes); every class at once: `lime_values`.
    "occlusion"    `occlusion.occlusion`: a sliding baseline patch, 2D and 3D.
Segments are superpixels or supervoxels (`radxai.explain.segments`), given or computed by
SLIC; an "off" segment or an occluded window takes its voxels from a baseline
(`radxai.explain.baselines`). Perturbed copies are composed and scored in batches
(`scoring`), through either backend, and every sample through the model is counted.
"""

from radxai.explain.perturbation.kernel_shap import (
    kernel_shap,
    kernel_shap_values,
    minimum_kernel_shap_samples,
)
from radxai.explain.perturbation.lime_segments import lime_on_segments, lime_values
from radxai.explain.perturbation.occlusion import occlusion, occlusion_windows
from radxai.explain.perturbation.scoring import OUTPUTS
from radxai.explain.perturbation.segment_attribution import SegmentAttribution

__all__ = [
    "OUTPUTS",
    "SegmentAttribution",
    "kernel_shap",
    "kernel_shap_values",
    "lime_on_segments",
    "lime_values",
    "minimum_kernel_shap_samples",
    "occlusion",
    "occlusion_windows",
]
