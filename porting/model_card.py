"""The human model card (README.md) written next to each export, from its metadata."""

from __future__ import annotations


def render_model_card(meta: dict) -> str:
    """Markdown in the style of TF-Hub / Kaggle model pages; every number comes from ``meta``."""
    arch = meta["architecture"]
    up = meta["upstream"]
    inp = meta["input"]
    norm = inp["normalization"]
    pre = inp["test_pipeline"]
    par = meta["parity"]
    rows = "\n".join(
        f"| {name} | {v['max_abs']:.3e} | {v['mean_abs']:.3e} | {v['tolerance']:g} |"
        for name, v in par["outputs"].items()
    )
    variant = meta["variant"]
    sampling = (
        f"{pre['num_clips']} clip(s) of {pre['clip_len']} frames at interval {pre['frame_interval']}"
        + (" (frame-uniform)" if pre["frame_uniform"] else "")
    )
    nf = arch["num_features"]
    fe_row = (
        f"| `feature_extractor/` | pooled features `[B, {nf}]` | "
        f"`{{'features': [B, {nf}, T/2, H/32, W/32], 'pooled': [B, {nf}]}}` |"
    )
    return f"""# Video Swin Transformer: `{variant}` (TensorFlow SavedModel)

Ported from the official PyTorch checkpoint of
[SwinTransformer/Video-Swin-Transformer]({up["repository"]}) with `tf_videoswin`.
Trained on **{meta["dataset"]}**; {arch["num_classes"]} classes; {arch["num_parameters"]:,} parameters.

| folder | `__call__(video, training=False)` | `serving_default` |
|---|---|---|
| `classifier/` | logits `[B, {arch["num_classes"]}]` | `{{'logits': [B, {arch["num_classes"]}]}}` |
{fe_row}

Class names ship in `classifier/assets/labels.txt`, in output order.

## Input

`video`: float32 `[B, 3, T, H, W]` (channels-first), RGB, each pixel `(x - mean) / std` on the 0-255
scale with mean `{norm["mean"]}` and std `{norm["std"]}`. B, T, H and W are dynamic: the official
evaluation uses 32x224x224 ({sampling}, short side {pre["short_side"]}, {pre["num_crops"]} crops of
{pre["crop_size"]}, softmax averaged over views), but any size works without re-export.

## Usage

```python
import tensorflow as tf, tensorflow_hub as hub, tf_keras

# TF-Hub style (tf_keras): fine-tune the backbone with a new head.
model = tf_keras.Sequential([
    hub.KerasLayer("{variant}/feature_extractor", trainable=True),
    tf_keras.layers.Dense(10),
])
model.compile(optimizer="adam", loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))

# Keras 3
import keras
layer = keras.layers.TFSMLayer("{variant}/classifier", call_endpoint="serving_default")
logits = layer(tf.zeros([1, 3, 32, 224, 224]))["logits"]

# Plain TensorFlow
classifier = tf.saved_model.load("{variant}/classifier")
logits = classifier.signatures["serving_default"](video=tf.zeros([1, 3, 32, 224, 224]))["logits"]
```

## Accuracy (from the official README, not re-measured here)

top-1 {meta["accuracy"]["top1"]} / top-5 {meta["accuracy"]["top5"]} on {meta["dataset"]}
(pretrained on {meta["pretrain"]}).

## Parity with the PyTorch reference, measured at export

Input `{par["input_shape"]}` (seeded normal; needs padding and window clipping):

| output | max abs | mean abs | tolerance |
|---|---|---|---|
{rows}

Reloaded SavedModels vs the in-memory model (max abs): {meta["reload_max_abs"]}.

## Provenance

- checkpoint: {up["checkpoint_url"]}
- sha256: `{up["checkpoint_sha256"]}`
- versions: {meta["versions"]}
- license of the upstream weights: {up["license"]}
"""
