"""Deployment files of a Video Swin model: LiteRT (TFLite), ONNX and OpenVINO IR, each proven before use.

All three come from one graph: :mod:`tf_videoswin.model.static_forward`, the Keras model's own layers and
variables at a static clip shape, with no loops, rank <= 6 transposes and a converter-friendly GELU.

- :mod:`.signatures`: that graph as ``tf.function`` s at one clip shape (its weights captured, or as inputs);
- :mod:`.targets`: which files a request makes and what they are called;
- :mod:`.tflite_file`: ``tf.lite.TFLiteConverter`` with builtin ops only (float32, float16 weights,
  dynamic-range int8), and the operator check that refuses Flex/custom ops;
- :mod:`.onnx_file`: tf2onnx (opset 17, dynamic batch axis);
- :mod:`.openvino_file`: OpenVINO IR (``.xml`` + ``.bin``, f32) read from that ONNX file;
- :mod:`.runtimes`: one ``run(video) -> outputs`` interface over the LiteRT interpreter, ONNX Runtime and
  OpenVINO (used by the proofs and by ``benchmarks/formats.py``);
- :mod:`.writer`: converts, runs each file in its runtime against the reference outputs, and returns the
  :class:`~tf_videoswin.export.metadata.ExportFile` entries.

Needs TensorFlow; the converters and runtimes are the optional ``deploy`` extra
(``pip install 'tf-videoswin[deploy]'``), imported only when a file of their format is made or run.
"""

from .targets import DEFAULT_DEPLOY_SHAPE, DEPLOY_FORMATS, DEPLOY_PRECISIONS, DeployTarget, plan_targets

__all__ = ["DEFAULT_DEPLOY_SHAPE", "DEPLOY_FORMATS", "DEPLOY_PRECISIONS", "DeployTarget", "plan_targets"]
