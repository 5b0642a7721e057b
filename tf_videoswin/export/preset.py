"""keras-hub preset folders: the layout ``keras_hub.upload_preset`` publishes to Kaggle or Hugging Face.

A preset folder holds ``config.json`` (the model serialised by Keras, as the keras-hub ``Backbone``
``tf_videoswin>VideoSwinBackbone``), ``model.weights.h5``, ``metadata.json`` (Keras and package versions,
parameter count) and a model card ``README.md`` whose front matter names the ``library_name``. Only
Keras writes and reads it, so a preset written on one backend loads on every other, and neither
TensorFlow nor keras-hub is needed: :func:`tf_videoswin.from_pretrained` loads a preset folder like an
export folder. Where keras-hub is installed, ``keras_hub.models.Backbone.from_preset(folder)`` loads it
too, after ``import tf_videoswin`` (:mod:`tf_videoswin.model.hub_backbone`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ExportFormatError
from ..files import atomic_directory

if TYPE_CHECKING:
    from ..model import Recognizer3D

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
MODEL_CARD_FILE = "README.md"
#: The class a preset's ``config.json`` names: the keras-hub ``Backbone`` form of the model, which
#: ``import tf_videoswin`` registers with Keras once keras-hub is imported.
REGISTERED_NAME = "tf_videoswin>VideoSwinBackbone"
BACKBONE_CLASS = {"module": "tf_videoswin.model.hub_backbone", "class_name": "VideoSwinBackbone"}
#: What ``config.json`` may name: the Backbone, or the plain model (the same config and weights).
ACCEPTED_NAMES = (REGISTERED_NAME, "tf_videoswin>Recognizer3D")


def is_preset(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a preset's ``config.json`` and weights."""
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def model_card(model: Recognizer3D, variant: str | None) -> str:
    """The preset's README: Hugging Face front matter (``library_name``, tags) and how to load it."""
    title = variant or model.name
    return f"""---
library_name: keras
tags:
- video-classification
- video-swin
- tf-videoswin
license: apache-2.0
---
# {title}

Video Swin Transformer ({model.config.embed_dim}-dim, depths {list(model.config.depths)}, window
{list(model.config.window_size)}, {model.config.num_classes} classes), ported from the official PyTorch
checkpoint by tf-videoswin with proven parity. Keras 3: runs on TensorFlow, JAX and PyTorch.

```python
import tf_videoswin

model = tf_videoswin.from_pretrained("path/to/this/folder")
outputs = model(video)  # video: (B, 3, T, H, W) float32, normalised; outputs: logits, features, pooled
```
"""


def save_preset(
    model: Recognizer3D, folder: str | os.PathLike, *, variant: str | None = None, overwrite: bool = False
) -> Path:
    """Write ``model`` as a keras-hub preset folder (atomically: nothing half-written on failure).

    Publish it with ``keras_hub.upload_preset("kaggle://<user>/<model>/keras/<variant>", folder)`` or
    ``"hf://<user>/<repo>"`` (needs keras-hub and network access).

    Raises:
        FileExistsError: ``folder`` exists and ``overwrite`` is false.
    """
    import keras

    from .. import __version__

    folder = Path(folder)
    with atomic_directory(folder, overwrite=overwrite) as tmp:
        # The Backbone's config is the model's (a subclass adding no state), written without importing
        # keras-hub, which this package does not need.
        config = {**keras.saving.serialize_keras_object(model), **BACKBONE_CLASS}
        config["registered_name"] = REGISTERED_NAME
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        model.save_weights(tmp / WEIGHTS_FILE)
        metadata = {
            "keras_version": keras.__version__,
            "tf_videoswin_version": __version__,
            "parameter_count": int(model.count_params()),
            "variant": variant or model.name,
        }
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        (tmp / MODEL_CARD_FILE).write_text(model_card(model, variant))
    logger.info("wrote the preset %s", folder)
    return folder


def load_preset(folder: str | os.PathLike) -> Recognizer3D:
    """The model of a preset folder, with its weights, on this process's Keras backend.

    Raises:
        ExportFormatError: not a preset folder, or a preset of another model.
    """
    from ..model import Recognizer3D

    folder = Path(folder)
    if not is_preset(folder):
        raise ExportFormatError(f"{folder}: not a preset folder (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except ValueError as e:
        raise ExportFormatError(f"{folder / CONFIG_FILE}: not valid JSON ({e})") from e
    if not isinstance(config, dict) or config.get("registered_name") not in ACCEPTED_NAMES:
        found = config.get("registered_name") if isinstance(config, dict) else None
        raise ExportFormatError(
            f"{folder / CONFIG_FILE}: a preset of {found!r}, not of a tf_videoswin model ({REGISTERED_NAME})"
        )
    try:
        model = Recognizer3D.from_config(config["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ExportFormatError(f"{folder / CONFIG_FILE}: not a valid model config ({e})") from e
    model.load_weights(folder / WEIGHTS_FILE)
    return model
