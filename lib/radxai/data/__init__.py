"""Data: synthetic phantoms, image I/O (NIfTI, DICOM, PNG), preprocessing and datasets."""
