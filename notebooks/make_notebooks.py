"""Writes the example notebooks from the cell sources below (run: python notebooks/make_notebooks.py).

The notebooks are committed; this script keeps their source reviewable as plain Python.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''import os, sys
from pathlib import Path
import numpy as np

# Work folder shared by the notebooks (CI points it at a temp dir); conversions are reused.
WORK = Path(os.environ.get("VIDEOSWIN_NOTEBOOK_WORKDIR", "_work")).resolve()
WORK.mkdir(parents=True, exist_ok=True)
VARIANT = "swin_tiny_patch244_window877_kinetics400_1k"'''

CONVERT = """import porting
from porting.synthetic import write_synthetic_checkpoint
from tf_videoswin import get_variant

# Real use: `python porting/convert.py --variant VARIANT` downloads the official checkpoint
# (https://github.com/SwinTransformer/storage/releases/download/v1.0.4/<variant>.pth).
# Here, offline, we convert a SYNTHETIC checkpoint: the official layout with RANDOM weights.
# Every step is real, but predictions and accuracies below are NOT those of the trained model.
checkpoint = WORK / f"{VARIANT}_synthetic.pth"
if not checkpoint.exists():
    write_synthetic_checkpoint(VARIANT, checkpoint, seed=0)
# Exported only if the port matches the PyTorch reference (else ParityError); a rerun finds it up to date.
plan = porting.ExportPlan(formats="savedmodel")
result = porting.convert(get_variant(VARIANT), checkpoint, WORK / "exports", plan=plan)
print(f"{result.export_dir} is up to date" if result.skipped else result.parity.format())
EXPORT = WORK / "exports" / VARIANT
print(sorted(p.name for p in EXPORT.iterdir()))"""

DATASET = '''import av

def moving_shape_video(path, direction, frames=24, size=64, seed=0):
    """A bright square moving left->right (0), right->left (1) or standing still (2)."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 40, (frames, size, size, 3), dtype=np.uint8)
    side, y = size // 4, int(rng.integers(4, size // 2))
    for t in range(frames):
        pos = int((size - side) * t / (frames - 1))
        x = {0: pos, 1: size - side - pos, 2: (size - side) // 2}[direction]
        video[t, y:y + side, x:x + side] = (230, 60 + 60 * direction, 40)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=12)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path'''


def notebook(name: str, cells: list) -> None:
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(nb, HERE / name)


def main() -> None:
    notebook(
        "01_quickstart.ipynb",
        [
            new_markdown_cell(
                "# Quickstart: convert, load with `hub.KerasLayer`, classify a video\\n\\n"
                "Converts Swin-T (Kinetics-400) to TensorFlow, checks parity against the PyTorch reference, "
                "reloads the export with `hub.KerasLayer` and classifies an mp4 with the official test pipeline.\\n\\n"
                "**Offline, this notebook uses a synthetic checkpoint (random weights)**: the class names it "
                "prints are noise. With network access `python porting/convert.py --variant ...` downloads the "
                "official weights (top-1 78.8 on Kinetics-400 per the official README)."
            ),
            new_code_cell(SETUP),
            new_code_cell(CONVERT),
            new_code_cell(
                DATASET
                + """

video_path = moving_shape_video(WORK / "quickstart.mp4", direction=0, frames=48, size=96)"""
            ),
            new_code_cell("""import tensorflow_hub as hub, tf_keras
from tf_videoswin import get_variant, load_labels
from tf_videoswin.video import decode_video, make_views

frames = decode_video(video_path)
views = make_views(frames, get_variant(VARIANT).preprocessing, views="single")  # [1, 3, 32, 224, 224]
model = tf_keras.Sequential([hub.KerasLayer(str(EXPORT / "classifier"))])
probs = tf_keras.activations.softmax(model(views)).numpy().mean(axis=0)
labels = load_labels(VARIANT)
top5 = np.argsort(-probs)[:5]
for i in top5:
    print(f"{probs[i]:.4f}  {labels[i]}")"""),
            new_code_cell("""import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 5, figsize=(12, 2.5))
for ax, t in zip(axes, np.linspace(0, len(frames) - 1, 5).astype(int)):
    ax.imshow(frames[t]); ax.set_title(f"frame {t}"); ax.axis("off")
plt.show()
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh([labels[i] for i in top5][::-1], probs[top5][::-1])
ax.set_xlabel("probability (synthetic weights: meaningless)")
plt.tight_layout(); plt.show()"""),
            new_markdown_cell(
                "The same prediction from the command line, with all official views:\\n\\n"
                "`python -m tf_videoswin.predict video.mp4 --model exports/<variant>/classifier`"
            ),
        ],
    )

    notebook(
        "02_fine_tuning.ipynb",
        [
            new_markdown_cell(
                "# Fine-tuning with `hub.KerasLayer(trainable=True)`\\n\\n"
                "A new classification head on the feature-extractor export, trained end to end on a small "
                "generated dataset (squares moving left, right or standing still). The loss uses "
                "`from_logits=True` because the head outputs logits. Synthetic backbone weights: the point is "
                "the workflow, not the accuracy; with official weights the backbone starts from Kinetics."
            ),
            new_code_cell(SETUP),
            new_code_cell(CONVERT),
            new_code_cell(
                DATASET
                + """

from tf_videoswin.config import MEAN_RGB, STD_RGB
from tf_videoswin.video import decode_video, normalize

def clip(path, frames=8, size=64):
    v = decode_video(path)[:: max(1, 24 // frames)][:frames]
    return normalize(v, MEAN_RGB, STD_RGB).transpose(3, 0, 1, 2)  # [3, T, H, W]

paths, labels = [], []
for i in range(18):
    paths.append(moving_shape_video(WORK / f"ft_{i}.mp4", direction=i % 3, seed=i)); labels.append(i % 3)
x = np.stack([clip(p) for p in paths]).astype(np.float32)
y = np.array(labels)
print(x.shape, np.bincount(y))"""
            ),
            new_code_cell("""import tensorflow as tf, tensorflow_hub as hub, tf_keras

tf.random.set_seed(0)
model = tf_keras.Sequential([
    hub.KerasLayer(str(EXPORT / "feature_extractor"), trainable=True),
    tf_keras.layers.LayerNormalization(),
    tf_keras.layers.Dense(3),
])
model.compile(
    optimizer=tf_keras.optimizers.Adam(1e-4),
    loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
history = model.fit(x, y, batch_size=6, epochs=4, shuffle=True, verbose=2)"""),
            new_code_cell("""import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3))
a.plot(history.history["loss"]); a.set_title("loss"); a.set_xlabel("epoch")
b.plot(history.history["accuracy"]); b.set_title("accuracy"); b.set_xlabel("epoch")
plt.tight_layout(); plt.show()
assert history.history["loss"][-1] < history.history["loss"][0]"""),
        ],
    )

    notebook(
        "03_other_input_shapes.ipynb",
        [
            new_markdown_cell(
                "# One export, any clip size\\n\\n"
                "Batch, frames, height and width are dynamic in the SavedModel: the same export serves "
                "16×112×112, 8×160×160 and 64×224×224 without re-converting, and matches the PyTorch "
                "reference at each size."
            ),
            new_code_cell(SETUP),
            new_code_cell(CONVERT),
            new_code_cell("""import time, torch, tensorflow as tf
from porting.parity import parity_input, torch_outputs
from porting.pipeline import port_checkpoint

reference = port_checkpoint(VARIANT, checkpoint).reference  # reference_torch, loaded with strict=True
serving = tf.saved_model.load(str(EXPORT / "feature_extractor")).signatures["serving_default"]
for shape in [(1, 3, 16, 112, 112), (1, 3, 8, 160, 160), (1, 3, 64, 224, 224)]:
    video = parity_input(shape, seed=0)
    start = time.perf_counter()
    out = serving(video=tf.constant(video))
    seconds = time.perf_counter() - start
    ref = torch_outputs(reference, video)
    diff = np.abs(out["features"].numpy() - ref["features"]).max()
    print(f"{shape}: features {tuple(out['features'].shape)}, {seconds:.1f} s, max |tf - torch| = {diff:.1e}")
    assert diff < 1e-4"""),
        ],
    )

    notebook(
        "04_features_temporal_head.ipynb",
        [
            new_markdown_cell(
                "# Video Swin features + a small temporal transformer head\\n\\n"
                "The keras.io video-classification workflow (per-frame CNN features, then a transformer over "
                "time) with Video Swin features instead: the feature map `[C, T', H', W']` is pooled over space "
                "into a sequence of `T'` tokens, and a one-layer transformer classifies it. The task is a "
                "two-class one, as in the keras.io ViViT example: left-moving vs right-moving squares. "
                "Synthetic backbone weights: the workflow is real, the accuracy is not that of the trained model."
            ),
            new_code_cell(SETUP),
            new_code_cell(CONVERT),
            new_code_cell(
                DATASET
                + """

import tensorflow as tf
from tf_videoswin.config import MEAN_RGB, STD_RGB
from tf_videoswin.video import decode_video, normalize

serving = tf.saved_model.load(str(EXPORT / "feature_extractor")).signatures["serving_default"]
sequences, labels = [], []
for i in range(16):
    path = moving_shape_video(WORK / f"tt_{i}.mp4", direction=i % 2, frames=16, seed=100 + i)
    video = normalize(decode_video(path), MEAN_RGB, STD_RGB).transpose(3, 0, 1, 2)[None]  # [1, 3, 16, 64, 64]
    fmap = serving(video=tf.constant(video))["features"].numpy()[0]  # [C, 8, 2, 2]
    sequences.append(fmap.mean(axis=(2, 3)).T)  # [T'=8, C]
    labels.append(i % 2)
x, y = np.stack(sequences).astype(np.float32), np.array(labels)
print(x.shape)"""
            ),
            new_code_cell("""import tf_keras
from tf_keras import layers

tf.random.set_seed(0)
inputs = tf_keras.Input(x.shape[1:])
h = layers.LayerNormalization()(inputs)
h = layers.Dense(64)(h)
h = h + layers.MultiHeadAttention(num_heads=2, key_dim=32)(h, h)
h = layers.LayerNormalization()(h)
h = layers.GlobalAveragePooling1D()(h)
outputs = layers.Dense(2)(h)
head = tf_keras.Model(inputs, outputs)
head.compile(tf_keras.optimizers.Adam(1e-3),
             tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
history = head.fit(x, y, epochs=20, batch_size=4, verbose=0)
print(f"loss {history.history['loss'][0]:.3f} -> {history.history['loss'][-1]:.3f}, "
      f"train accuracy {history.history['accuracy'][-1]:.2f}")
assert history.history["loss"][-1] < history.history["loss"][0]"""),
        ],
    )
    notebook(
        "05_keras_backends.ipynb",
        [
            new_markdown_cell(
                "# The same model on JAX (or PyTorch), without TensorFlow\n\n"
                "Keras reads `KERAS_BACKEND` once, when it is first imported: set it first. This notebook runs "
                "on JAX (`pip install 'tf-videoswin[jax]'`); `torch` works the same way. It loads the "
                "checkpoint, predicts, fine-tunes a new 3-class head with `compile` and `fit`, and saves a "
                "keras-hub preset folder that loads on every backend. **Offline it uses a synthetic "
                "checkpoint (random weights)**, so the numbers are not those of the trained model."
            ),
            new_code_cell(
                'import os\n\nos.environ["KERAS_BACKEND"] = "jax"  # before Keras is imported\n'
                + SETUP
                + """
import sys
import keras
import tf_videoswin
from porting.synthetic import write_synthetic_checkpoint

checkpoint = WORK / f"{VARIANT}_synthetic.pth"
if not checkpoint.exists():
    write_synthetic_checkpoint(VARIANT, checkpoint, seed=0)
print(keras.backend.backend())"""
            ),
            new_code_cell("""model = tf_videoswin.from_pretrained(VARIANT, checkpoint=checkpoint, progress=False)
video = np.random.default_rng(0).standard_normal((1, 3, 8, 64, 64)).astype(np.float32)
out = model(video)  # compiled once per clip shape with jax.jit
print({k: v.shape for k, v in out.items()}, type(out["logits"]).__name__)
assert "tensorflow" not in sys.modules"""),
            new_code_cell("""tuned = tf_videoswin.from_pretrained(VARIANT, checkpoint=checkpoint, num_classes=3, progress=False)
clips = np.random.default_rng(1).standard_normal((4, 3, 8, 64, 64)).astype(np.float32)
labels = np.array([0, 1, 2, 1])
tuned.compile(
    optimizer=keras.optimizers.AdamW(1e-4),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # on the logits
    metrics=["accuracy"],
)
history = tuned.fit(clips, labels, batch_size=2, epochs=1, verbose=0)
print(history.history)
assert np.isfinite(history.history["loss"]).all()"""),
            new_code_cell("""from tf_videoswin.export.preset import save_preset

folder = save_preset(tuned, WORK / "preset_3_classes", variant=VARIANT, overwrite=True)
print(sorted(p.name for p in folder.iterdir()))
reloaded = tf_videoswin.from_pretrained(folder)
same = np.abs(np.asarray(reloaded(clips[:1])["logits"]) - np.asarray(tuned(clips[:1])["logits"])).max()
print(f"reloaded preset: max abs difference {same:.1e}")
assert same == 0"""),
        ],
    )


if __name__ == "__main__":
    main()
