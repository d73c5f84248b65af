"""Training and inference time of every architecture with channels-first and channels-last weights.

`radxai.models.build` stores convolution weights channels-last
(`radxai.models.memory_layout.store_channels_last`) because the CPU kernels run faster on that
layout. This benchmark measures by how much, per architecture at the sizes the default profile
trains (`params/default.yaml`): one training step (forward, backward, Adam step) and one
inference forward pass, batch 4, 2 threads, each layout timed over interleaved rounds
(`bench.timing.interleaved_rounds`, so a changing machine load falls on both alike), median
reported. It also reports the largest |difference| of the two layouts' logits for the same
weights and input: the layouts hold the same values, so only rounding may differ.

Results go to bench/results/memory_layout.json; `run` returns the markdown table.
"""

from __future__ import annotations

import json
import platform
import statistics
from pathlib import Path

import torch

from bench.timing import interleaved_rounds
from radxai.models import build

RESULTS = Path(__file__).parent / "results" / "memory_layout.json"
THREADS = 2
ROUNDS = 5
BATCH = 4
# case: (architecture, arguments, input shape of one sample)
CASES: dict[str, tuple[str, dict, tuple[int, ...]]] = {
    "3D CNN (48 x 96 x 96)": ("cnn3d", {"width": 0.125, "padding": "valid"}, (1, 48, 96, 96)),
    "AxialNet (48 x 96 x 96)": (
        "axialnet",
        {"slice_size": [96, 96], "width": 0.125, "blocks_per_stage": [1, 1, 1]},
        (1, 48, 96, 96),
    ),
    "2D CNN (128 x 128)": ("cnn2d", {"width": 0.25, "num_outputs": 8}, (1, 128, 128)),
    "U-Net classifier (64 x 64)": ("unet_classifier", {"num_classes": 3, "depth": 4, "width": 0.125}, (1, 64, 64)),
}


def _channels_first(model: torch.nn.Module) -> torch.nn.Module:
    # Laid out explicitly: `contiguous()` keeps a one-input-channel weight's channels-last strides.
    for parameter in model.parameters():
        parameter.data = torch.empty_like(parameter.data, memory_format=torch.contiguous_format).copy_(parameter.data)
    return model


def _logits(output) -> torch.Tensor:
    return output.logits if hasattr(output, "logits") else output


def _training_step(model: torch.nn.Module, optimiser: torch.optim.Optimizer, inputs: torch.Tensor):
    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        _logits(model(inputs)).sum().backward()
        optimiser.step()

    return step


def _measure(architecture: str, arguments: dict, shape: tuple[int, ...]) -> dict:
    torch.manual_seed(0)
    inputs = torch.rand(BATCH, *shape)
    channels_last = build(architecture, **arguments)
    channels_first = _channels_first(build(architecture, **arguments))
    channels_first.load_state_dict(channels_last.state_dict())
    models = {"channels-first": channels_first, "channels-last": channels_last}
    with torch.no_grad():
        difference = float((_logits(channels_first.eval()(inputs)) - _logits(channels_last.eval()(inputs))).abs().max())
    row: dict = {"max_abs_logit_difference": difference}
    for phase in ("training", "inference"):
        kinds = {}
        for layout, model in models.items():
            if phase == "training":
                kinds[layout] = _training_step(model.train(), torch.optim.Adam(model.parameters()), inputs)
            else:
                model.eval()
                kinds[layout] = lambda model=model: torch.no_grad()(model)(inputs)
        for kind in kinds.values():
            kind()  # warm-up: allocator and kernel selection
        seconds, _ = interleaved_rounds(kinds, ROUNDS)
        for layout in models:
            row[f"{phase}_{layout}_seconds"] = statistics.median(seconds[layout])
        row[f"{phase}_ratio"] = row[f"{phase}_channels-last_seconds"] / row[f"{phase}_channels-first_seconds"]
    return row


def run() -> str:
    """Measure every case, write the JSON results and return the markdown table."""
    torch.set_num_threads(THREADS)
    rows = {name: _measure(*case) for name, case in CASES.items()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "threads": THREADS,
                "batch": BATCH,
                "rounds": ROUNDS,
                "torch": torch.__version__,
                "cases": rows,
            },
            indent=1,
        )
    )
    lines = [
        "| model | training step s, channels-first | channels-last | ratio | inference s, channels-first "
        "| channels-last | ratio | max abs logit difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['training_channels-first_seconds']:.3f} "
            f"| {row['training_channels-last_seconds']:.3f} "
            f"| {row['training_ratio']:.2f} | {row['inference_channels-first_seconds']:.3f} "
            f"| {row['inference_channels-last_seconds']:.3f} | {row['inference_ratio']:.2f} "
            f"| {row['max_abs_logit_difference']:.1e} |"
        )
    return "\n".join(lines)
