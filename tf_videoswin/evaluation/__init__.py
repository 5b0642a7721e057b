"""Measuring accuracy on labelled videos: mmaction's metrics, a resumable prediction store, and the
PyTorch reference on the same views.

- :mod:`.metrics`: ``top_k_accuracy`` and ``mean_class_accuracy`` as mmaction computes them;
- :mod:`.store`: per-video predictions in CSV (local engine) or Parquet parts (Ray engine);
- :mod:`.reference`: ``reference_torch`` probabilities on the views the export saw;
- :mod:`.evaluate`: all of it as one call, :func:`~.evaluate.evaluate` (list, export, predictions,
  metrics), from Python with keyword arguments.

The app ``python -m tf_videoswin.evaluate`` (:mod:`tf_videoswin.cli.evaluate`) parses its flags and calls
:func:`~.evaluate.evaluate`.
"""
