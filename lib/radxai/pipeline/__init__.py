"""Papermill runs of the numbered notebooks, and the load-or-build cache the notebooks share.

One module per concern: `runner` (runs and their run.json), `profiles`, `cache` (load or
build, keyed by parameters and code), `recipes` (the datasets and trained models the notebooks
share), `guided_models` (the explanation-guided trainings of notebook 08) and `files` (hashes
and atomic JSON). Everything public is importable from here, as the notebooks do
(``pipeline.trained_model(...)``).

A *profile* (``params/<name>.yaml``) holds the parameters of one run size::

    description: what this profile is for
    parameters:          # given to every notebook that declares them in its `parameters` cell
      seed: 0
      ct_shape: [32, 64, 64]
    notebooks:           # optional per-notebook overrides, keyed by notebook stem
      03_cam_3d: {n_volumes: 4}
    seeds: [0, 1, 2]     # optional: one run per seed and the spread across them (radxai.seed_sweep)

``reproduce`` executes the notebooks in order into a new ``runs/<timestamp>-<profile>/``:
executed notebooks, whatever the notebooks write (figures/, tables/, heatmaps/, data/) and
``run.json`` (git commit, package versions, parameters, seeds, timings, sha256 of every output).
A run directory is never reused for a new run; a failed run keeps everything done so far and
``resume`` continues it.
"""

from radxai.pipeline.cache import (
    CACHE_FOLDER,
    COMPLETE_MARKER,
    load_or_build,
    parameters_key,
    resolve_run_dir,
    source_files,
    source_fingerprint,
)
from radxai.pipeline.files import RUN_RECORD, output_hashes, read_json_record, sha256_of_file, write_json_atomically
from radxai.pipeline.guided_models import (
    gaze_datasets,
    mask_loss_datasets,
    trained_gaze_model,
    trained_mask_loss_model,
)
from radxai.pipeline.profiles import (
    ProfileError,
    available_profiles,
    load_profile,
    notebook_parameters,
    seeds_of,
    with_overrides,
)
from radxai.pipeline.recipes import (
    SYNTHETIC,
    TIMINGS_FILE,
    dataset_spec,
    model_datasets,
    synthetic_ct_dataset,
    synthetic_cxr_dataset,
    torch_training_code,
    trained_keras_cnn3d,
    trained_model,
    training_history,
    training_timings,
    write_history,
)
from radxai.pipeline.runner import (
    DEFAULT_KERNEL,
    RECORDED_PACKAGES,
    NotebookFailure,
    NotebookSelectionError,
    RunDirectoryError,
    RunSettings,
    declared_parameters,
    git_commit,
    list_notebooks,
    machine_description,
    new_run_directory,
    package_versions,
    read_run_record,
    reproduce,
)

__all__ = [
    "CACHE_FOLDER",
    "COMPLETE_MARKER",
    "DEFAULT_KERNEL",
    "RECORDED_PACKAGES",
    "RUN_RECORD",
    "SYNTHETIC",
    "TIMINGS_FILE",
    "NotebookFailure",
    "NotebookSelectionError",
    "ProfileError",
    "RunDirectoryError",
    "RunSettings",
    "available_profiles",
    "dataset_spec",
    "declared_parameters",
    "gaze_datasets",
    "git_commit",
    "list_notebooks",
    "load_or_build",
    "load_profile",
    "machine_description",
    "mask_loss_datasets",
    "model_datasets",
    "new_run_directory",
    "notebook_parameters",
    "output_hashes",
    "package_versions",
    "parameters_key",
    "read_json_record",
    "read_run_record",
    "reproduce",
    "resolve_run_dir",
    "seeds_of",
    "sha256_of_file",
    "source_files",
    "source_fingerprint",
    "synthetic_ct_dataset",
    "synthetic_cxr_dataset",
    "torch_training_code",
    "trained_gaze_model",
    "trained_keras_cnn3d",
    "trained_mask_loss_model",
    "trained_model",
    "training_history",
    "training_timings",
    "with_overrides",
    "write_history",
    "write_json_atomically",
]
