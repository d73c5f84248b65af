"""Model checkpoints: one file holding the architecture name, its arguments and the weights.

A checkpoint is a ``torch.save`` dictionary::

    {"architecture": str, "arguments": dict, "state_dict": dict[str, Tensor],
     "radxai_version": str, "weights_sha256": str, **extra}

It is read back with ``torch.load(weights_only=True)``, so nothing in it can run code on
load; `extra` must therefore be plain data (numbers, strings, lists, tuples, dicts, tensors).
``weights_sha256`` (of every tensor's name, dtype, shape and bytes) is checked on load, so a
damaged weight is an error, never a silently different model; checkpoints written before it
existed load without the check.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from radxai import __version__
from radxai.data.model_input import ModelInput
from radxai.models.registry import UnknownArchitectureError, build

__all__ = ["CheckpointError", "REQUIRED_KEYS", "save", "load", "read_model_input", "weights_sha256"]

REQUIRED_KEYS = ("architecture", "arguments", "state_dict", "radxai_version")


class CheckpointError(ValueError):
    """A file that is not a usable radxai checkpoint (unreadable, incomplete, mismatched)."""


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 of a state dict: every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _build(checkpoint: dict[str, Any], source: Path) -> nn.Module:
    try:
        return build(checkpoint["architecture"], **checkpoint["arguments"])
    except UnknownArchitectureError as error:
        raise CheckpointError(f"{source}: {error}") from error
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{source}: cannot rebuild architecture {checkpoint['architecture']!r} from its stored arguments ({error})"
        ) from error


def _check_shapes(skeleton: nn.Module, state_dict: Any, source: Path) -> None:
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{source}: state_dict is a {type(state_dict).__name__}, not a dictionary")
    expected = {name: tuple(tensor.shape) for name, tensor in skeleton.state_dict().items()}
    stored = {name: tuple(tensor.shape) for name, tensor in state_dict.items() if isinstance(tensor, torch.Tensor)}
    differing = [
        f"{name}: architecture {shape}, file {stored.get(name, 'absent')}"
        for name, shape in expected.items()
        if stored.get(name) != shape
    ]
    if differing:
        raise CheckpointError(
            f"{source}: weights do not fit architecture {skeleton.architecture!r} "
            f"with its stored arguments ({len(differing)} tensors differ, e.g. "
            f"{differing[0]})"
        )


def save(model: nn.Module, path: str | os.PathLike[str], **extra: Any) -> Path:
    """Write `model` to `path` as a checkpoint and return the path.

    The model must come from `radxai.models.build` (it needs ``architecture`` and
    ``arguments``). `extra` entries (e.g. ``epoch=3, metrics={...}``) are stored alongside.
    The file is written to a temporary file in the same directory, read back as ``load``
    would read it, and only then moved into place, so an existing checkpoint is never left
    half-overwritten or replaced by one that cannot be loaded.

    Raises ValueError for a model not built by radxai, a reserved key in `extra`, or an
    `extra` entry that is not plain data (the existing file stays as it was).
    """
    architecture = getattr(model, "architecture", None)
    arguments = getattr(model, "arguments", None)
    if architecture is None or arguments is None:
        raise ValueError(
            f"{type(model).__name__} has no 'architecture'/'arguments' attributes; build "
            "models with radxai.models.build(name, ...) so that they can be saved and reloaded"
        )
    clashing = sorted(set(extra) & {*REQUIRED_KEYS, "weights_sha256"})
    if clashing:
        raise ValueError(f"extra checkpoint entries may not use reserved keys: {clashing}")
    state_dict = model.state_dict()
    checkpoint = {
        "architecture": architecture,
        "arguments": dict(arguments),
        "state_dict": state_dict,
        "radxai_version": __version__,
        "weights_sha256": weights_sha256(state_dict),
        **extra,
    }
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            torch.load(temporary_name, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(
                f"{destination} not written: the checkpoint would not load back "
                f"({type(error).__name__}); extra entries must be plain data "
                "(numbers, strings, lists, tuples, dicts, tensors)"
            ) from error
        os.chmod(temporary_name, 0o644)  # mkstemp creates owner-only files
        os.replace(temporary_name, destination)
    except BaseException:
        Path(temporary_name).unlink(missing_ok=True)
        raise
    return destination


def load(path: str | os.PathLike[str], map_location: Any = "cpu") -> nn.Module:
    """Rebuild the model saved at `path`, load its weights and return it in eval mode.

    Raises FileNotFoundError if there is no such file, and CheckpointError (a ValueError)
    naming the file when it is not a torch checkpoint, lacks required keys, names an unknown
    architecture, or holds weights that do not fit the architecture.
    """
    source = Path(path)
    checkpoint = _read_checkpoint(source, map_location)
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{source} is missing checkpoint keys: {', '.join(missing)}")
    stored_hash = checkpoint.get("weights_sha256")
    if stored_hash is not None and weights_sha256(checkpoint["state_dict"]) != stored_hash:
        raise CheckpointError(f"{source}: its weights differ from those saved (sha256 mismatch): the file is damaged")
    # First on the meta device (no memory): stored arguments that ask for a far larger network
    # than the stored weights (a damaged or edited file) are refused before a real build
    # allocates it.
    with torch.device("meta"):
        skeleton = _build(checkpoint, source)
    _check_shapes(skeleton, checkpoint["state_dict"], source)
    model = _build(checkpoint, source)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as error:
        raise CheckpointError(
            f"{source}: weights do not fit architecture {checkpoint['architecture']!r} ({error})"
        ) from error
    return model.eval()


def read_model_input(path: str | os.PathLike[str]) -> ModelInput:
    """How scans become the input of the model saved at ``path`` (`radxai.data.model_input.ModelInput`).

    Raises FileNotFoundError without a file, CheckpointError for a file that is no checkpoint,
    and ModelInputError (naming the file and what is missing) for a checkpoint saved without
    that record, e.g. one written before radxai kept it.
    """
    source = Path(path)
    return ModelInput.from_dict(_read_checkpoint(source, "cpu").get("model_input"), str(source))


def _read_checkpoint(source: Path, map_location: Any) -> dict[str, Any]:
    """The checkpoint dictionary at ``source``: FileNotFoundError or CheckpointError naming it."""
    if not source.is_file():
        raise FileNotFoundError(f"no checkpoint file at {source}")
    try:
        checkpoint = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"{source} is not a readable torch checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{source} holds a {type(checkpoint).__name__}, not a radxai checkpoint dictionary")
    return checkpoint
