"""Reading and writing chest images: NIfTI volumes, DICOM series and radiographs, PNG/JPEG.

Conventions:
- Volumes are returned as `Volume` objects with arrays in (D, H, W) = (slice k, row j,
  column i) order and a NIfTI-convention affine (voxel (i, j, k) -> RAS+ world mm).
- 2D images are float32 (H, W) arrays scaled to [0, 1], bright = dense.
- Writers are atomic (a temporary file in the target directory, then `os.replace`) and
  byte-deterministic, so the same input always gives a file with the same sha256.
- Every read failure raises `ImageReadError`, whose message names the file and the problem.

Modules: `nifti` (volumes), `dicom` (CT series and radiographs), `images` (PNG and JPEG),
`errors` (`ImageReadError`); this package re-exports their public functions.
"""

from radxai.data.io.dicom import read_dicom_image, read_dicom_series
from radxai.data.io.errors import ImageReadError
from radxai.data.io.images import read_image, write_png
from radxai.data.io.nifti import read_nifti, write_nifti

__all__ = [
    "ImageReadError",
    "read_nifti",
    "write_nifti",
    "read_dicom_series",
    "read_dicom_image",
    "read_image",
    "write_png",
]
