"""The export floor: the on-disk format of a converted or fine-tuned model, its writer and its readers.

- :mod:`.metadata`: ``videoswin_metadata.json`` as a class (:class:`ExportMetadata`), schema-versioned;
- :mod:`.savedmodel`: TF-Hub reusable SavedModels (``classifier``, ``feature_extractor``);
- :mod:`.model_card`: the README written next to an export;
- :mod:`.serving`: loading an export for inference and running it on video views;
- :mod:`.files`: atomic directories (one writer each, see :mod:`tf_videoswin.output_lock`) and digests;
- :mod:`.verify`: each file a loader reads checked against the size and sha256 in the metadata.

Needs TensorFlow (not torch): the converter and the fine-tuning app both write through it.
"""

from .metadata import EXPORT_KINDS, METADATA_FILE, SCHEMA_VERSION, ExportFile, ExportMetadata

__all__ = ["EXPORT_KINDS", "METADATA_FILE", "SCHEMA_VERSION", "ExportFile", "ExportMetadata"]
