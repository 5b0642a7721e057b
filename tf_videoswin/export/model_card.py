"""The human model card (README.md) written next to each export, from its metadata."""

from __future__ import annotations

from .deploy.targets import DEPLOY_FORMATS
from .metadata import ExportFile, ExportMetadata


def _figures(parity: dict) -> str:
    parts = []
    for k, v in parity.items():
        if isinstance(v, dict) or k in ("exact", "tolerance"):
            continue  # per-output / per-runtime detail and drift live in the JSON and the section below
        parts.append(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}")
    return ", ".join(parts)


def _files_table(meta: ExportMetadata) -> str:
    if not meta.files:
        return ""
    rows = []
    for f in meta.files:
        parity = _figures(f.parity)
        rows.append(
            f"| `{f.path}` | {f.format} | {f.kind} | {f.precision} | {f.size_bytes / 1e6:.1f} MB | "
            f"{parity or '-'} | `{f.sha256[:16]}…` |"
        )
    return (
        "\n## Files\n\n| path | format | outputs | precision | size | parity / drift | sha256 |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def _published_prefix(src: dict) -> str:
    """A line on the published sha256 prefix (mmaction2) and whether this checkpoint has it."""
    prefix = src.get("published_sha256_prefix")
    if not prefix:
        return ""
    same = str(src.get("checkpoint_sha256", "")).startswith(prefix)
    verdict = (
        "this checkpoint has it" if same else "this checkpoint does NOT have it (not the published file)"
    )
    return f"\n- published sha256 prefix (in the upstream file name): `{prefix}`; {verdict}"


def _deploy_row(f: ExportFile) -> str:
    shape = "x".join("N" if d is None else str(d) for d in f.details.get("input_shape", []))
    runtimes = ", ".join(f.details.get("runtimes", []))
    worst = f.parity.get("vs_reference_max_abs", float("nan"))
    if f.parity.get("exact"):
        verdict = f"matches reference_torch: max abs {worst:.2e} (tolerance {f.parity.get('tolerance', 0):g})"
    else:
        drift = f.parity.get("drift", {})
        bits = [f"max abs {worst:.2e}"]
        if "pooled_cosine_min" in drift:
            bits.append(f"pooled-feature cosine >= {drift['pooled_cosine_min']:.7g}")
        if "logits_top5_overlap" in drift:
            bits.append(f"top-5 overlap {drift['logits_top5_overlap']:.2f}")
            bits.append(f"top-1 agreement {drift['logits_top1_agreement']:.2f}")
        verdict = f"**lossy, not exact**: {', '.join(bits)} over {drift.get('inputs', 0)} inputs"
    return f"| `{f.path}` | {f.kind} | `{shape}` | {f.precision} | {runtimes} | {verdict} |"


def _deploy_section(meta: ExportMetadata) -> str:
    files = [f for f in meta.files if f.format in DEPLOY_FORMATS]
    if not files:
        return ""
    rows = "\n".join(_deploy_row(f) for f in files)
    return (
        "\n## Deployment files (LiteRT, ONNX, OpenVINO)\n\n"
        "Converted from the static-shape deployment graph of this model "
        "(`tf_videoswin.model.static_forward`) and "
        "run in each runtime on the seeded parity input before being kept. float32 files match "
        "reference_torch within the tolerance. float16 and int8 files store lower-precision weights and "
        "are **lossy**: their outputs drift from float32 as measured below, and they are never exact. "
        "OpenVINO must be compiled with `INFERENCE_PRECISION_HINT=f32` (its CPU default is bf16). "
        "N is a dynamic batch axis.\n\n"
        "| file | outputs | input | precision | runtimes | vs reference_torch |\n|---|---|---|---|---|---|\n"
        f"{rows}\n"
    )


def _precision_section(meta: ExportMetadata) -> str:
    if meta.precision == "float32":
        return ""
    d = {k: meta.precision_drift.get(k, float("nan")) for k in ("pooled_cosine_min", "logits_max_abs")}
    d.update(
        (k, meta.precision_drift.get(k, float("nan")))
        for k in ("logits_top5_overlap", "logits_top1_agreement")
    )
    kept = "LayerNorm statistics, attention logits with bias and mask, the softmax and the head stay float32"
    if meta.attention_precision != "float32":
        kept = (
            f"LayerNorm statistics and the head stay float32; the attention logits with bias and mask "
            f"and the softmax are {meta.attention_precision} (accumulated and normalised in float32)"
        )
    return (
        f"\n## Precision: {meta.precision} (lossy, not exact)\n\n"
        f"The SavedModels compute every matmul in {meta.precision}; variables, the residual stream, "
        f"{kept}. "
        "The float32 port was proven against the reference (above); this export drifts from it, measured "
        f"over {meta.precision_drift.get('inputs', 0)} seeded inputs: pooled-feature cosine >= "
        f"{d['pooled_cosine_min']:.6f}, logits max abs {d['logits_max_abs']:.2e}, top-5 overlap "
        f"{d['logits_top5_overlap']:.2f}, top-1 agreement {d['logits_top1_agreement']:.2f}.\n"
    )


def render_model_card(meta: ExportMetadata) -> str:
    """Markdown in the style of TF-Hub / Kaggle model pages; every number comes from ``meta``."""
    arch = meta.architecture
    src = meta.source
    pre = meta.preprocessing
    par = meta.parity
    rows = "\n".join(
        f"| {name} | {v['max_abs']:.3e} | {v['mean_abs']:.3e} | {v['tolerance']:g} |"
        for name, v in par.get("outputs", {}).items()
    )
    variant = meta.variant
    sampling = f"{pre.num_clips} clip(s) of {pre.clip_len} frames at interval {pre.frame_interval}" + (
        " (frame-uniform)" if pre.frame_uniform else ""
    )
    if not pre.frame_uniform and pre.clip_starts == "evenly_spaced":
        sampling += ", clip starts evenly spaced as in mmaction2 1.x"
    nf, nc = arch.num_features, arch.num_classes
    fe_row = (
        f"| `feature_extractor/` | pooled features `[B, {nf}]` | "
        f"`{{'features': [B, {nf}, T/2, H/32, W/32], 'pooled': [B, {nf}]}}` |"
    )
    repo = src.get("repository", "")
    if src.get("kind") == "finetuned":
        origin = (
            f"Fine-tuned with `tf_videoswin.finetune` from `{src.get('base_variant')}` "
            f"on {meta.dataset} ({nc} classes)."
        )
    else:
        origin = (
            f"Ported from the PyTorch checkpoint of [{repo}]({repo}) "
            f"with `tf_videoswin`. Trained on **{meta.dataset}**; {nc} classes."
        )
    accuracy = (
        f"## Accuracy (from {meta.accuracy['source']}, not re-measured here)\n\n"
        f"top-1 {meta.accuracy['top1']} / top-5 {meta.accuracy['top5']} on {meta.dataset}"
        f" (pretrained on {src.get('pretrain', '?')}).\n"
        if meta.accuracy
        else ""
    )
    parity = (
        "## Parity with the PyTorch reference, measured at export\n\n"
        f"Input `{par['input_shape']}` (seeded normal; needs padding and window clipping):\n\n"
        "| output | max abs | mean abs | tolerance |\n|---|---|---|---|\n"
        f"{rows}\n\nReloaded SavedModels vs the in-memory model (max abs): {meta.reload_max_abs}.\n"
        if rows
        else ""
    )
    return f"""# Video Swin Transformer: `{variant}` (TensorFlow SavedModel)

{origin}

| folder | `__call__(video, training=False)` | `serving_default` |
|---|---|---|
| `classifier/` | logits `[B, {nc}]` | `{{'logits': [B, {nc}]}}` |
{fe_row}

Class names ship in `classifier/assets/labels.txt` and in `videoswin_metadata.json`, in output order.

## Input

`video`: float32 `[B, 3, T, H, W]` (channels-first), {pre.channel_order}, each pixel `(x - mean) / std`
on the 0-255 scale with mean `{list(pre.mean)}` and std `{list(pre.std)}`. B, T, H and W are dynamic:
the official evaluation uses {pre.clip_len}x{pre.crop_size}x{pre.crop_size} ({sampling}, short side
{pre.short_side}, {pre.num_crops} crops of {pre.crop_size}, softmax averaged over views), but any size
works without re-export.

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

# As a Keras model (pip install tf-videoswin)
import tf_videoswin
model = tf_videoswin.from_pretrained("{variant}")  # this folder
```

{accuracy}
{parity}{_precision_section(meta)}{_files_table(meta)}{_deploy_section(meta)}
## Provenance

- checkpoint: {src.get("checkpoint_url", "-")}
- sha256: `{src.get("checkpoint_sha256", "-")}`{_published_prefix(src)}
- versions: {meta.versions}
- license of the upstream weights: {src.get("license", "-")}
"""
