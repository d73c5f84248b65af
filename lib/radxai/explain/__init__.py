"""Explaining chest imaging models: one front door, methods registered by name.

    from radxai.explain import explain
    result = explain(model, volume_batch, "hirescam", target=0)   # layer: model.cam_layer
    result.heatmaps    # (N, D, H, W) in [0, 1] at input resolution
    result.raw     # (N, G, h, w): the signed map at the layer, before ReLU and normalisation

Methods (`methods()`): CAMs "gradcam", "hirescam", "gradcam++", "layercam", "scorecam"
(`radxai.explain.cam`); gradients "saliency", "gradient_x_input", "integrated_gradients",
"guided_backprop", "deconvnet", "guided_gradcam" (`radxai.explain.gradients`); "smoothgrad"
around any of them (`radxai.explain.smoothgrad`); perturbations "kernel_shap", "lime" (on
superpixels / supervoxels, every class at once with `kernel_shap_values` and `lime_values`)
and "occlusion" (`radxai.explain.perturbation`). New methods register with
`register_method`. Arrays are numpy at the boundary: inputs (N, C, *spatial) with spatial
(H, W) or (D, H, W), channel first. Models: PyTorch modules and Keras models; the backend is
detected from the model (`radxai.explain.backends`: `torch` and `keras`).

Several methods of one batch: `explain_methods(model, x, ["gradcam", "hirescam", ...])`, where
the gradient CAMs share one forward and backward pass.

Modules: `front_door` (explain, explain_methods), `explanation` (Explanation), `targets`, `capture` (torch
hooks as context managers), `upsample`, `registry`, `backends`, `cam`, `gradients`,
`smoothgrad`, `perturbation`, `segments` (SLIC superpixels and supervoxels), `baselines`,
`slices` (the most informative slices of a CT heatmap), `export` (NIfTI heatmaps).
"""

# The method modules are imported for their registrations.
from radxai.explain import cam, gradients, perturbation, smoothgrad  # noqa: F401
from radxai.explain.explanation import Explanation
from radxai.explain.export import save_heatmap_nifti
from radxai.explain.front_door import explain, explain_methods
from radxai.explain.registry import methods, register_method

__all__ = ["explain", "explain_methods", "Explanation", "methods", "register_method", "save_heatmap_nifti"]
