"""One call to a Keras Video Swin with real weights: from an upstream checkpoint, or from an export.

:func:`from_pretrained` converts an upstream checkpoint in memory with the same intake as
``porting/convert.py`` (``weights_only`` loading, architecture / NaN / derived-buffer checks, every
key accounted for), or loads a finished export (folder, ``.keras`` file or keras-hub preset folder)
without torch. Both work on every Keras backend: an export folder's ``.weights.h5`` file loads on
TensorFlow, JAX and PyTorch alike (only an export without one needs TensorFlow, to read its
SavedModel's variables).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .errors import CheckpointError, ExportCheckError, ExportFormatError
from .export.verify import named_read_errors, verify_export
from .metrics import TRAINED_RELOAD_TOLERANCE, max_abs
from .model.recognizer import Recognizer3D
from .variants import get_variant

logger = logging.getLogger(__name__)

_EXPORT_CHECK_SHAPE = (1, 3, 4, 32, 32)


def _with_head(
    model: Recognizer3D, num_classes: int | None, include_top: bool, data_format: str | None = None
) -> Recognizer3D:
    """``model``, or a copy with its backbone and a new (or no) head, in ``data_format``."""
    wanted = 0 if not include_top else (model.config.num_classes if num_classes is None else num_classes)
    data_format = data_format or model.data_format
    if wanted == model.config.num_classes and data_format == model.data_format:
        return model
    if wanted == model.config.num_classes:
        fresh = Recognizer3D(model.config, **model.precision_config, data_format=data_format, name=model.name)
        fresh.set_weights(model.get_weights())
        return fresh
    fresh = Recognizer3D(
        model.config.replace(num_classes=wanted),
        **model.precision_config,
        data_format=data_format,
        name=model.name,
    )
    fresh.backbone.set_weights(model.backbone.get_weights())
    return fresh


def _looks_like_path(name: str | os.PathLike) -> bool:
    text = os.fspath(name)
    return (
        isinstance(name, os.PathLike)
        or os.sep in text
        or text.endswith((".keras", ".h5"))
        or text in (".", "..")
    )


def from_pretrained(
    name: str | os.PathLike,
    *,
    checkpoint: str | os.PathLike | None = None,
    include_top: bool = True,
    num_classes: int | None = None,
    verify: bool | None = None,
    tolerance: float = 1e-4,
    cache_dir: str | os.PathLike | None = None,
    sha256: str | None = None,
    trust_checkpoint: bool = False,
    progress: bool = True,
    precision: str | None = None,
    attention_precision: str | None = None,
    data_format: str = "channels_first",
    weights: str | os.PathLike | None = None,
) -> Recognizer3D:
    """A Keras :class:`Recognizer3D` with pretrained weights.

    Args:
        name: a registry variant (``"swin_tiny_patch244_window877_kinetics400_1k"``), or the path of
            an export folder / ``.keras`` file (loaded without torch; see :func:`load_export_model`).
        checkpoint: a local ``.pth`` of the variant; without it the upstream file is downloaded into
            the cache (progress bar, resume, sha256 or, for mmaction2, the published sha256 prefix).
        include_top: keep a classification head; ``False`` returns the backbone only
            (``features`` and ``pooled`` outputs).
        num_classes: a new, randomly initialised head of this size (for fine-tuning).
        verify: a checkpoint: ``True`` also builds the PyTorch reference and checks parity on a seeded
            input that needs padding and window clipping (raises
            :class:`~tf_videoswin.errors.ParityError`). An export: its files are checked against the
            size and sha256 in its metadata unless ``False`` (see :func:`load_export_model`).
        tolerance: max-abs tolerance of ``verify``.
        cache_dir: download cache (default ``$VIDEOSWIN_CACHE`` or ``~/.cache/tf_videoswin/checkpoints``).
        sha256: expected checksum of the checkpoint.
        trust_checkpoint: allow full unpickling of a checkpoint that ``weights_only`` refuses.
        progress: show a download progress bar.
        precision: ``"float32"`` (exact), ``"bfloat16"`` (faster on CPUs with bf16 arithmetic) or
            ``"float16"`` (GPUs): the matmul dtype; see :class:`~tf_videoswin.model.Recognizer3D`.
            Default: float32 for a checkpoint, the export's own precision for an export.
            ``verify`` checks the float32 port, which the reduced-precision model then shares weights with.
        attention_precision: ``"float32"`` or ``precision``: the dtype of the attention logits and
            softmax (see :class:`~tf_videoswin.model.Recognizer3D`). Default: float32, or the export's
            own when it keeps the export's precision.
        data_format: ``"channels_first"`` (default, ``(B, 3, T, H, W)`` clips) or ``"channels_last"``
            (``(B, T, H, W, 3)``, the Keras convention); same weights, same numbers.
        weights: a ``.weights.h5`` file of the variant ``name`` (written by ``save_weights`` or an
            export, on any backend) to load instead of converting a checkpoint.
    Returns:
        The model, in inference mode unless called with ``training=True``.
    Raises:
        UnknownVariantError: not a registered name (the message suggests close ones).
        CheckpointError: missing, unreadable or unsafe checkpoint.
        CheckpointMismatchError: a checkpoint of another variant (the message names it).
        ExportFormatError: a path that is not an export, or an export file that differs from its
            metadata record or cannot be read.
    Example:
        >>> name = "swin_tiny_patch244_window877_kinetics400_1k"
        >>> model = from_pretrained(name)  # doctest: +SKIP
        >>> out = model(video)  # {"logits", "features", "pooled"}  # doctest: +SKIP
        >>> tuned = from_pretrained(name, num_classes=10)  # a new head to fine-tune  # doctest: +SKIP
    """
    if _looks_like_path(name) or Path(name).exists():
        model = _with_head(
            load_export_model(name, verify=verify is not False), num_classes, include_top, data_format
        )
        if precision in (None, model.precision):
            return model.with_precision(model.precision, attention_precision or model.attention_precision)
        return model.with_precision(precision, attention_precision or "float32")
    cfg = get_variant(str(name))
    if weights is not None:
        if not Path(weights).is_file():
            raise CheckpointError(f"weights file not found: {weights}")
        model = Recognizer3D(cfg.arch, name=cfg.name)
        model.load_weights(weights)
        return _with_head(model, num_classes, include_top, data_format).with_precision(
            precision or "float32", attention_precision or "float32"
        )
    from porting.port import port_checkpoint, verify_parity

    if checkpoint is None:
        from porting.download import fetch_checkpoint

        checkpoint, _ = fetch_checkpoint(
            cfg.url,
            cache_dir,
            sha256 or cfg.checkpoint_sha256,
            progress,
            expected_sha256_prefix=cfg.checkpoint_sha256_prefix,
        )
    elif not Path(checkpoint).is_file():
        raise CheckpointError(f"checkpoint not found: {checkpoint}")
    elif sha256:
        from .files import sha256_file

        digest = sha256_file(checkpoint)
        if digest != sha256.lower():
            raise CheckpointError(f"sha256 mismatch for {checkpoint}: expected {sha256}, got {digest}")
    ported = port_checkpoint(cfg, checkpoint, trust_checkpoint=trust_checkpoint, reference=verify)
    if verify:
        report, _, _ = verify_parity(ported, tolerance=tolerance)
        logger.info("parity with reference_torch:\n%s", report.format())
    return _with_head(ported.tf_model, num_classes, include_top, data_format).with_precision(
        precision or "float32", attention_precision or "float32"
    )


@named_read_errors
def load_export_model(path: str | os.PathLike, verify: bool = True) -> Recognizer3D:
    """The Keras model of an export: a ``.keras`` file, a keras-hub preset folder, or an export folder
    (or one of its SavedModels).

    From an export folder, the ``.weights.h5`` file is used when the export has one, else the
    ``.keras`` file, else the classifier SavedModel's variables (checked against that SavedModel's
    output; TensorFlow backend only). ``verify``: first check the file to be read against the size
    and sha256 in the metadata.

    Raises:
        ExportFormatError: no such file or folder, no valid metadata, or a file that differs from its
            record or cannot be read.
    """
    import keras

    from .export.preset import is_preset, load_preset

    verify_export(path, verify)

    path = Path(path)
    if is_preset(path):
        return load_preset(path)
    if path.suffix == ".keras":
        if not path.is_file():
            raise ExportFormatError(f"{path}: no such file")
        return keras.saving.load_model(path)
    from .export.metadata import ExportMetadata, find_metadata_file

    meta = ExportMetadata.read(path)
    model = Recognizer3D(
        meta.architecture,
        precision=meta.precision,
        attention_precision=meta.attention_precision,
        name=meta.variant,
    )
    if (path / "saved_model.pb").is_file():  # one SavedModel folder of an export (or copied on its own)
        return _from_savedmodel(model, path)
    root = find_metadata_file(path).parent
    by_format = {f.format: root / f.path for f in meta.files}
    if "weights" in by_format and by_format["weights"].is_file():
        model.load_weights(by_format["weights"])
        return model
    if "keras" in by_format and by_format["keras"].is_file():
        return keras.saving.load_model(by_format["keras"])
    return _from_savedmodel(model, root / ("classifier" if model.include_top else "feature_extractor"))


def _from_savedmodel(model: Recognizer3D, savedmodel: Path) -> Recognizer3D:
    """``model`` with a SavedModel's ``variables`` (in the model's order), checked against its outputs.

    A classifier SavedModel holds every variable; a feature extractor only the backbone's, so the
    result of one has no head.
    """
    from .backend import require_tensorflow_backend

    if not (savedmodel / "saved_model.pb").is_file():
        raise ExportFormatError(f"{savedmodel} is not a SavedModel folder (no saved_model.pb)")
    require_tensorflow_backend(f"reading the variables of the SavedModel {savedmodel}")
    import tensorflow as tf

    loaded = tf.saved_model.load(str(savedmodel))
    source = list(loaded.variables)
    if model.include_top and len(source) == len(model.backbone.variables):
        model = Recognizer3D(
            model.config.replace(num_classes=0),
            **model.precision_config,
            data_format=model.data_format,
            name=model.name,
        )
    target = model.variables
    shapes = [tuple(v.shape) for v in source], [tuple(v.shape) for v in target]
    if shapes[0] != shapes[1]:
        raise ExportFormatError(
            f"{savedmodel}: its {len(source)} variables do not match the architecture in the metadata "
            f"({len(target)} variables)"
        )
    for src, dst in zip(source, target, strict=True):
        dst.assign(src)
    video = np.random.default_rng(0).standard_normal(_EXPORT_CHECK_SHAPE).astype(np.float32)
    expected = loaded.signatures["serving_default"](video=tf.constant(video))
    actual = model(tf.constant(video), training=False)
    shared = [k for k in expected if k in actual]
    diff = max(
        max_abs({k: expected[k].numpy() for k in shared}, {k: actual[k].numpy() for k in shared}).values()
    )
    if not diff <= TRAINED_RELOAD_TOLERANCE:  # any export, a fine-tuned one too
        raise ExportCheckError(f"{savedmodel}: the Keras model differs from the SavedModel by {diff:.3e}")
    return model
