"""The Keras conventions of the model on TensorFlow: channels-last clips, fit with a plain loss, presets,
named errors for clips of the other layout and weights of another architecture.

The same behaviours on JAX and PyTorch are checked in ``tests/test_backends.py``; the keras.ops forward
those backends run is checked here against the TensorFlow graph through a shared NumPy geometry.
"""

from __future__ import annotations

import numpy as np
import pytest

import tf_videoswin
from tf_videoswin import VideoSwinConfig, build_model
from tf_videoswin.export.preset import REGISTERED_NAME, load_preset, save_preset

#: A small architecture with every stage shifted and windows clipped at the clip size below.
SMALL = VideoSwinConfig(
    embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=(2, 4, 4), num_classes=3
)
CLIP = (2, 3, 6, 36, 44)


@pytest.fixture(scope="module")
def model():
    return build_model(SMALL)


@pytest.fixture(scope="module")
def video():
    return np.random.default_rng(0).standard_normal(CLIP).astype(np.float32)


def test_channels_last_gives_the_same_numbers(model, video):
    last = build_model(SMALL, data_format="channels_last")
    last.set_weights(model.get_weights())
    first = {k: v.numpy() for k, v in model(video).items()}
    out = {k: v.numpy() for k, v in last(video.transpose(0, 2, 3, 4, 1)).items()}
    assert out["features"].shape == first["features"].transpose(0, 2, 3, 4, 1).shape
    np.testing.assert_allclose(out["features"], first["features"].transpose(0, 2, 3, 4, 1), atol=1e-5)
    np.testing.assert_allclose(out["logits"], first["logits"], atol=1e-5)
    np.testing.assert_allclose(out["pooled"], first["pooled"], atol=1e-5)


def test_clip_of_the_other_layout_is_refused_by_name(model, video):
    with pytest.raises(tf_videoswin.ClipShapeError, match="channels_last"):
        model(video.transpose(0, 2, 3, 4, 1))
    with pytest.raises(tf_videoswin.ClipShapeError, match=r"\(B, 3, T, H, W\)"):
        model(video[0])


def test_fit_with_a_plain_loss_trains_the_logits():
    import keras

    model = build_model(SMALL)
    videos = np.random.default_rng(1).standard_normal((4, 3, 4, 32, 32)).astype(np.float32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(videos, np.array([0, 1, 2, 1]), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and "accuracy" in history.history
    moved = [np.abs(w.numpy() - b).max() > 0 for w, b in zip(model.trainable_weights, before, strict=True)]
    assert all(moved)


def test_fit_without_a_head_says_so():
    import keras

    model = build_model(SMALL.replace(num_classes=0))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    videos = np.zeros((2, 3, 4, 32, 32), np.float32)
    with pytest.raises(ValueError, match="no classification head"):
        model.fit(videos, np.array([0, 1]), verbose=0)


def test_weights_of_another_architecture_are_refused_by_name(model, tmp_path):
    path = tmp_path / "small.weights.h5"
    model.save_weights(path)
    other = build_model(SMALL.replace(embed_dim=24))
    with pytest.raises(tf_videoswin.CheckpointMismatchError, match="do not fit"):
        other.load_weights(path)


def test_preset_round_trip(model, video, tmp_path):
    folder = save_preset(model, tmp_path / "preset", variant="small")
    config = (folder / "config.json").read_text()
    assert REGISTERED_NAME in config
    assert "library_name: keras" in (folder / "README.md").read_text()
    assert (folder / "metadata.json").is_file() and (folder / "model.weights.h5").is_file()
    for loaded in (load_preset(folder), tf_videoswin.from_pretrained(folder)):
        np.testing.assert_array_equal(loaded(video)["logits"].numpy(), model(video)["logits"].numpy())
    with pytest.raises(FileExistsError):
        save_preset(model, folder)


def test_preset_of_another_model_is_refused(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text('{"registered_name": "keras_hub>BertBackbone"}')
    (folder / "model.weights.h5").write_bytes(b"")
    with pytest.raises(tf_videoswin.ExportFormatError, match="BertBackbone"):
        load_preset(folder)


def test_symbolic_call_gives_output_shapes(model):
    import keras

    out = model.compute_output_spec(keras.KerasTensor((None, 3, 18, 70, 90)))
    assert out["features"].shape == (None, SMALL.num_features, 9, 3, 3)
    assert out["logits"].shape == (None, 3)


def test_keras_hub_backbone_from_preset_loads_a_preset(model, video, tmp_path):
    """keras-hub (in the ``dev`` extra) accepts our presets: ``Backbone.from_preset`` after
    ``import tf_videoswin`` gives the model with its weights."""
    import keras_hub

    folder = save_preset(model, tmp_path / "hub_preset", variant="small")
    loaded = keras_hub.models.Backbone.from_preset(str(folder))
    assert isinstance(loaded, tf_videoswin.Recognizer3D)
    np.testing.assert_array_equal(loaded(video)["logits"].numpy(), model(video)["logits"].numpy())


def test_converter_writes_a_preset_as_an_export_format(model, video, tmp_path):
    """``convert.py --formats preset``: the export writer saves the preset, reloads it and records it."""
    from porting.export_plan import normalize_formats
    from tf_videoswin.export.keras_files import save_keras_files

    assert "preset" in normalize_formats("savedmodel,preset")
    (entry,) = save_keras_files(model, tmp_path, ["preset"], [video[:1]], name="small")
    assert entry.format == "preset" and entry.path == "preset"
    assert entry.parity["reload_max_abs"] == 0.0 and entry.size_bytes > 0
    assert (tmp_path / "preset" / "config.json").is_file()
