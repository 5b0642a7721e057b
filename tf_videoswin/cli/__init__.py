"""The command-line floor: one module per app (``predict``, ``extract_features``), their shared
helpers in :mod:`.common`. Documented entry points: ``python -m tf_videoswin.<app>`` and the
``videoswin-<app>`` console scripts."""
