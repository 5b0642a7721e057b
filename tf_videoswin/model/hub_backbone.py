"""The model as a keras-hub ``Backbone``, so that ``keras_hub.models.Backbone.from_preset`` loads a preset.

keras-hub accepts only subclasses of its own ``Backbone`` class there; :class:`VideoSwinBackbone` is
:class:`~tf_videoswin.model.Recognizer3D` (same variables, same call, same weights files) with that base
as well. Importing this module imports keras-hub, which imports TensorFlow (through tensorflow-text)
whatever the backend, so :mod:`tf_videoswin` imports it only once the user has imported keras-hub.
Presets name this class in their ``config.json`` (:mod:`tf_videoswin.export.preset`).
"""

from __future__ import annotations

import keras_hub

from .layers.common import register
from .recognizer import Recognizer3D


@register
class VideoSwinBackbone(Recognizer3D, keras_hub.models.Backbone):
    """:class:`~tf_videoswin.model.Recognizer3D` as a keras-hub ``Backbone`` (see the module)."""
