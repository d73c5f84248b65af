"""radxai: reproducible explainable AI for chest X-ray and chest CT.

Subpackages: ``radxai.data`` (phantoms, image I/O, preprocessing, datasets), ``radxai.pipeline``
(papermill runs of the numbered notebooks) and ``radxai.cli`` (the ``radxai`` command).
"""

__version__ = "0.1.0"
