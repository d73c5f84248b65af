"""Tests of radxai.models: the architecture registry and checkpoints."""

from pathlib import Path

import pytest
import torch
from torch import nn

import radxai
from radxai.models import (
    CheckpointError,
    UnknownArchitectureError,
    architectures,
    build,
    load,
    register,
    save,
)

# Tiny arguments and a matching input per architecture.
TINY = {
    "cnn3d": ({"width": 0.0625, "padding": "same"}, (2, 1, 16, 16, 16)),
    "cnn2d": ({"width": 0.0625, "num_outputs": 3}, (2, 1, 16, 16)),
    "axialnet": (
        {"slice_size": (16, 16), "width": 0.0625, "blocks_per_stage": (1, 1), "num_classes": 2},
        (2, 1, 3, 16, 16),
    ),
    "bodycam": ({"width": 0.0625, "blocks_per_stage": (1, 1)}, (2, 1, 3, 16, 16)),
    "unet_classifier": ({"width": 0.0625, "depth": 2}, (2, 1, 8, 8)),
}


def tiny(name: str) -> nn.Module:
    torch.manual_seed(0)
    return build(name, **TINY[name][0])


def logits(output) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.logits


def test_all_architectures_are_registered():
    assert architectures() == sorted(TINY)


def test_unknown_architecture_names_it_and_lists_the_known_ones():
    with pytest.raises(UnknownArchitectureError) as raised:
        build("resnet152")
    message = str(raised.value)
    assert "resnet152" in message
    assert all(name in message for name in TINY)
    assert isinstance(raised.value, ValueError)


def test_wrong_argument_name_lists_accepted_arguments():
    with pytest.raises(TypeError, match=r"cnn3d.*accepted arguments: width, in_channels"):
        build("cnn3d", filters=3)


def test_build_remembers_architecture_and_all_arguments_with_defaults():
    model = build("cnn3d", width=0.125)
    assert model.architecture == "cnn3d"
    assert model.arguments == {
        "width": 0.125,
        "in_channels": 1,
        "dropout": 0.3,
        "num_outputs": 1,
        "padding": "valid",
    }


def test_register_refuses_to_replace_an_architecture():
    with pytest.raises(ValueError, match="already registered"):
        register("cnn3d")(nn.Identity)


@pytest.mark.parametrize("name", sorted(TINY))
def test_same_seed_same_weights(name):
    first, second = tiny(name).state_dict(), tiny(name).state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("name", sorted(TINY))
def test_relus_are_not_in_place(name):
    relus = [module for module in tiny(name).modules() if isinstance(module, nn.ReLU)]
    assert relus
    assert not any(relu.inplace for relu in relus)


@pytest.mark.parametrize("name", sorted(TINY))
def test_cam_layer_yields_a_channel_first_spatial_map(name):
    model = tiny(name).eval()
    shape = TINY[name][1]
    seen = {}
    model.get_submodule(model.cam_layer).register_forward_hook(
        lambda module, inputs, output: seen.__setitem__("shape", tuple(output.shape))
    )
    with torch.no_grad():
        model(torch.rand(*shape))
    assert len(seen["shape"]) == len(shape)
    assert seen["shape"][0] == shape[0]


@pytest.mark.parametrize("name", sorted(TINY))
def test_save_then_load_gives_the_same_model_and_outputs(name, tmp_path):
    model = tiny(name)
    volume = torch.rand(*TINY[name][1])
    # A training step moves the batch-norm statistics away from their initial values, so
    # the round trip must carry buffers as well as parameters.
    model.train()
    model(volume)
    model.eval()
    with torch.no_grad():
        expected = logits(model(volume))
    path = save(model, tmp_path / "runs" / "model.pt", epoch=3, metrics={"auc": 0.5})
    assert path == tmp_path / "runs" / "model.pt"

    loaded = load(path)
    assert type(loaded) is type(model)
    assert not loaded.training
    assert loaded.architecture == name
    assert loaded.arguments == model.arguments
    with torch.no_grad():
        torch.testing.assert_close(logits(loaded(volume)), expected, rtol=0, atol=0)

    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["epoch"] == 3
    assert checkpoint["metrics"] == {"auc": 0.5}
    assert checkpoint["radxai_version"] == radxai.__version__


def test_save_needs_a_built_model(tmp_path):
    with pytest.raises(ValueError, match="radxai.models.build"):
        save(nn.Linear(2, 1), tmp_path / "model.pt")


def test_save_refuses_reserved_extra_keys(tmp_path):
    with pytest.raises(ValueError, match="state_dict"):
        save(tiny("cnn2d"), tmp_path / "model.pt", state_dict={})


def test_failed_save_keeps_the_earlier_checkpoint_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "model.pt"
    save(tiny("cnn2d"), path)
    before = path.read_bytes()
    with pytest.raises(Exception):
        # A lambda cannot be pickled, so torch.save fails part-way through.
        save(tiny("cnn3d"), path, callback=lambda: None)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_an_extra_entry_that_would_not_load_back_keeps_the_earlier_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    save(tiny("cnn2d"), path)
    before = path.read_bytes()
    # object() pickles, so torch.save succeeds; load(weights_only=True) would refuse the file.
    with pytest.raises(ValueError, match="would not load back.*plain data"):
        save(tiny("cnn2d"), path, note=object())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
    load(path)


def test_a_damaged_weight_is_refused_not_loaded(tmp_path):
    path = save(tiny("cnn2d"), tmp_path / "model.pt")
    checkpoint = torch.load(path, weights_only=True)
    name = next(key for key, value in checkpoint["state_dict"].items() if value.is_floating_point())
    checkpoint["state_dict"][name].view(-1)[0] += 1.0  # as a flipped bit would, inside one tensor
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match="model.pt: its weights differ from those saved"):
        load(path)


def test_a_checkpoint_without_a_weights_hash_still_loads(tmp_path):
    path = save(tiny("cnn2d"), tmp_path / "model.pt")
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["weights_sha256"]  # as written before the hash existed
    torch.save(checkpoint, path)
    assert load(path).architecture == "cnn2d"


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load(tmp_path / "nothing.pt")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint\n", bytes(range(256)) * 4])
def test_corrupt_file_names_the_file_and_chains_the_cause(tmp_path, content):
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as raised:
        load(path)
    assert str(path) in str(raised.value)
    assert "not a readable torch checkpoint" in str(raised.value)
    assert raised.value.__cause__ is not None


def test_truncated_checkpoint_is_a_checkpoint_error(tmp_path):
    path = save(tiny("cnn2d"), tmp_path / "model.pt")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="model.pt"):
        load(path)


def test_non_dictionary_checkpoint(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match=r"list\.pt holds a list"):
        load(path)


def test_missing_keys_are_named(tmp_path):
    path = tmp_path / "weights_only.pt"
    torch.save({"state_dict": tiny("cnn2d").state_dict()}, path)
    with pytest.raises(CheckpointError) as raised:
        load(path)
    message = str(raised.value)
    assert "weights_only.pt" in message
    assert "architecture, arguments, radxai_version" in message


def checkpoint_with(path: Path, **changes) -> Path:
    checkpoint = torch.load(save(tiny("cnn2d"), path), weights_only=True)
    checkpoint.update(changes)
    torch.save(checkpoint, path)
    return path


def test_unknown_architecture_in_checkpoint(tmp_path):
    path = checkpoint_with(tmp_path / "model.pt", architecture="vit")
    with pytest.raises(CheckpointError, match=r"model\.pt.*'vit'.*known architectures: axialnet"):
        load(path)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    path = checkpoint_with(tmp_path / "model.pt", arguments={"width": 0.125})
    with pytest.raises(CheckpointError, match=r"model\.pt: weights do not fit .*'cnn2d'"):
        load(path)


def test_arguments_asking_for_an_enormous_network_are_refused_before_it_is_built(tmp_path, monkeypatch):
    # width 400 would allocate about 800 GB of cnn2d weights; the stored weights are tiny.
    path = checkpoint_with(tmp_path / "model.pt", arguments={"width": 400.0})
    real_builds = []
    monkeypatch.setattr(
        torch.nn.Conv2d, "reset_parameters", lambda self: real_builds.append(self.weight.device.type) or None
    )
    with pytest.raises(CheckpointError, match=r"model\.pt: weights do not fit architecture 'cnn2d'"):
        load(path)
    assert real_builds and "cpu" not in real_builds  # built on the meta device only


def test_arguments_the_architecture_does_not_accept(tmp_path):
    path = checkpoint_with(tmp_path / "model.pt", arguments={"depth": 3})
    with pytest.raises(CheckpointError, match=r"model\.pt: cannot rebuild architecture 'cnn2d'"):
        load(path)
