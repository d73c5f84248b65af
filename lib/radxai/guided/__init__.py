"""Explanation-guided training: losses on a model's explanations, inside its training graph.

- `radxai.guided.mask_loss`: the HiResCAM mask loss of the HiResCAM work (Draelos & Carin),
  L = L_class + lambda * L_mask, attention outside each class's allowed organ region penalised.
- `radxai.guided.allowed_regions`: the allowed regions (organ masks per class, nearest-neighbour
  grid, augmentation of volumes and masks together) and a CT dataset that yields them.
- `radxai.guided.generator`: guided backpropagation and DeconvNet heatmaps that are
  differentiable with respect to the weights (double backpropagation).
- `radxai.guided.gaze_training`: the U-Net with a classification head trained against gaze
  heatmaps (the eye-gaze heatmap-generator work's baseline and experiment sets 1-3).
- `radxai.guided.fit`: `radxai.train`'s one fit loop for (x, y, companion) datasets (`fit_guided`),
  and `fit_mask_loss`.
"""
