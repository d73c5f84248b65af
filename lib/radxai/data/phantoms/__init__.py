"""Synthetic chest CT and chest X-ray phantoms with known ground truth.

The CT phantoms live in `radxai.data.phantoms.ct` (their anatomy in `ct_anatomy`), the X-ray
phantoms in `radxai.data.phantoms.xray`, what they share in `radxai.data.phantoms.common`;
their public names are importable from here.

What the phantoms model
-----------------------
``ct_phantom`` builds a chest CT volume in Hounsfield units (HU): air around the patient, a body
with a subcutaneous fat layer, two lungs with vessel-like texture, the mediastinum with the heart,
trachea and descending aorta, the thoracic spine, and the curved CT table the patient lies on.
Optional COVID-19-like lesions (ground-glass opacity and consolidation, favouring the peripheral
and posterior lung) are sized to a MosMed severity grade CT-0..CT-4 by the share of lung volume
involved, and come with voxel masks. Optional confounders (a metal marker on the table, a folded
blanket over the chest) let a notebook plant a shortcut that a classifier can learn and an
explanation can expose.

``cxr_phantom`` builds a frontal (PA) chest radiograph with findings named as in VinDr-CXR, the
true mask and box of each finding, and boxes drawn by several simulated readers who disagree the
way radiologists do (each has a bias, jitter, and sometimes misses a subtle finding).

Conventions
-----------
- Every phantom is a pure function of its seed and parameters: the same arguments give bitwise
  identical arrays. All randomness comes from ``numpy.random.default_rng`` streams spawned from the
  seed, one stream per purpose (anatomy, lesions, noise, each confounder, each finding, each
  reader). Switching a confounder on therefore changes only the confounder's voxels, and for a
  given seed the lesions of a higher CT grade contain those of a lower one.
- CT arrays are (D, H, W): D runs head -> feet, H anterior -> posterior, W from the patient's right
  to the patient's left as displayed radiologically (the right lung lies at low column indices).
  The field of view is 300 mm along D and 350 mm across H and W, so the voxel spacing follows the
  shape; ``spacing_mm`` is (dz, dy, dx).
- X-ray images are (H, W) float32 in [0, 1], bright = dense, the patient's right on the image
  left, field of view 350 mm x 350 mm. A box is (x_min, y_min, x_max, y_max) in pixel units with
  x = column and y = row; it covers the pixels with x_min <= column < x_max and y_min <= row < y_max.
"""

from __future__ import annotations

from radxai.data.phantoms.ct import (
    CT_CONFOUNDERS,
    GRADE_INVOLVEMENT,
    LESION_LABELS,
    ORGAN_LABELS,
    CTPhantom,
    ct_phantom,
    grade_for_involvement,
    lung_mask_of,
)
from radxai.data.phantoms.xray import CXR_CONFOUNDERS, CXR_FINDINGS, NO_FINDING, CXRPhantom, ReaderBox, cxr_phantom

__all__ = [
    "CTPhantom",
    "CT_CONFOUNDERS",
    "CXRPhantom",
    "CXR_CONFOUNDERS",
    "CXR_FINDINGS",
    "GRADE_INVOLVEMENT",
    "LESION_LABELS",
    "NO_FINDING",
    "ORGAN_LABELS",
    "ReaderBox",
    "ct_phantom",
    "cxr_phantom",
    "grade_for_involvement",
    "lung_mask_of",
]
