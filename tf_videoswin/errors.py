"""Every error the toolkit raises on purpose, in one place, under one base class.

Pure Python (no TensorFlow, torch or video libraries), so any floor can raise them and users can catch
``tf_videoswin.VideoSwinError`` around any call. Each message names the file, key or value at fault and,
where there is one, the fix.
"""

from __future__ import annotations


class VideoSwinError(Exception):
    """Base class of the toolkit's errors."""


class UnknownVariantError(VideoSwinError, KeyError):
    """A variant name that is not in the registry (the message lists close names and all choices)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class MissingDependencyError(VideoSwinError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""


class CheckpointError(VideoSwinError, RuntimeError):
    """A checkpoint that cannot be used: missing, truncated, corrupt, unsafe or of another layout."""


class CheckpointMismatchError(VideoSwinError, ValueError):
    """The state_dict is not the architecture of the requested variant, or holds bad values."""


class PortingError(VideoSwinError, RuntimeError):
    """The state_dict and the model do not correspond one to one."""


class ParityError(VideoSwinError, RuntimeError):
    """The ported model does not reproduce the PyTorch reference within tolerance.

    ``report`` is the :class:`tf_videoswin.metrics.ParityReport` that failed.
    """

    def __init__(self, report) -> None:
        self.report = report
        row = report.first_failure
        super().__init__(
            f"parity check failed: {row.name} differs by {row.max_abs:.3e} (> {row.tolerance:g})\n"
            + report.format()
        )


class ExportFormatError(VideoSwinError, RuntimeError):
    """A folder or file that is not a usable export (no or invalid metadata, wrong kind, missing files)."""


class ExportCheckError(VideoSwinError, RuntimeError):
    """A written export does not reproduce the model it was written from."""


class DeploymentError(VideoSwinError, RuntimeError):
    """A deployment file (TFLite, ONNX, OpenVINO) could not be made: the converter failed, or its output
    needs operators the target runtime lacks (e.g. TFLite Flex ops). Nothing is kept."""


class DownloadError(VideoSwinError, RuntimeError):
    """A download failed; the message names the URL and the reason."""


class DatasetError(VideoSwinError, ValueError):
    """An annotation list or class-folder dataset that cannot be used (the message names file and line)."""


class TrainingError(VideoSwinError, RuntimeError):
    """A fine-tuning run that cannot start or resume (bad settings, or a checkpoint of another run)."""


class VideoError(VideoSwinError, RuntimeError):
    """A video that cannot be used: missing, empty, unreadable or without frames.

    The message starts with the file's path and says why.
    """


class VideoSourceError(VideoSwinError, FileNotFoundError):
    """A source argument that is neither a video file, a directory of videos nor a text list of paths.

    The message names the argument and what it is instead (missing, binary, ...).
    """


class FeatureStoreError(VideoSwinError, RuntimeError):
    """An output that cannot take these features: another variant or other options than the rows it
    already holds, not a feature folder, or a name that asks for another format."""


class ClipShapeError(VideoSwinError, ValueError):
    """A clip the model cannot take: not 5-D, or its channel axis is not where the model's
    ``data_format`` puts it (a channels-last clip given to a channels-first model, or the reverse)."""


class BackendError(VideoSwinError, RuntimeError):
    """An action that needs another Keras backend (a TensorFlow format written from a JAX or PyTorch
    process), or a ``KERAS_BACKEND`` whose library is not installed; the message says what to run."""


class OutputBusyError(VideoSwinError, RuntimeError):
    """Another live process is writing the same output (features, predictions, export, work dir);
    the message names its pid. One writer per output keeps every row exactly once."""


class OutputWriteError(VideoSwinError, OSError):
    """An output could not be written (a full disk, no permission, an I/O error); the message names the
    file and the reason. Nothing half-written is left, and the previous output is intact."""
