"""Labelled video datasets: mmaction annotation lists and folder-per-class trees.

Pure Python (no TensorFlow, no decoding): which videos, with which labels, under which class names.
Used by ``evaluate`` (an annotation list such as the official ``kinetics400_val_list_videos.txt``)
and ``finetune`` (a list, or one folder per class).

Annotation list (mmaction ``VideoDataset``): one video per line, ``relative/path.mp4 label_index``;
with ``multi_label``, ``path l1 l2 ...`` (mmaction's ``multi_class`` format). Paths are joined to
``data_root`` as mmaction joins them to ``data_prefix``; without a ``data_root`` they are relative to
the list file's folder. Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from .errors import DatasetError
from .video.sources import is_video_file

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LabelledVideos:
    """Videos, their label indices and the class names (index ``i`` is ``class_names[i]``)."""

    paths: tuple[str, ...]
    labels: tuple[tuple[int, ...], ...]  # one index per video, or several (multi-label)
    class_names: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.labels):
            raise DatasetError(f"{self.source}: {len(self.paths)} videos but {len(self.labels)} labels")
        bad = [(p, lab) for p, lab in zip(self.paths, self.labels, strict=True) if not lab]
        if bad:
            raise DatasetError(f"{self.source}: {bad[0][0]} has no label")
        top = max((max(lab) for lab in self.labels), default=-1)
        if top >= len(self.class_names):
            raise DatasetError(
                f"{self.source}: label index {top} is out of range for {len(self.class_names)} classes"
            )

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multi_label(self) -> bool:
        return any(len(lab) != 1 for lab in self.labels)

    def single_labels(self) -> list[int]:
        """One label index per video. Raises :class:`DatasetError` for a multi-label dataset."""
        if self.multi_label:
            raise DatasetError(f"{self.source}: some videos have several labels; expected one each")
        return [lab[0] for lab in self.labels]

    def subset(self, indices: Sequence[int]) -> LabelledVideos:
        return dataclasses.replace(
            self,
            paths=tuple(self.paths[i] for i in indices),
            labels=tuple(self.labels[i] for i in indices),
        )

    def fingerprint(self) -> str:
        """sha256 of the videos, labels and class names (a resumed run must see the same data)."""
        text = json.dumps([self.paths, self.labels, self.class_names], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_class_names(path: str | os.PathLike) -> list[str]:
    """Class names, one per line (blank lines skipped), as in ``tf_videoswin/labels/*.txt``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read class names ({e})") from e
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise DatasetError(f"{path}: no class names")
    return names


def read_annotation_list(
    path: str | os.PathLike, data_root: str | os.PathLike | None = None, multi_label: bool = False
) -> list[tuple[str, tuple[int, ...]]]:
    """``[(video path, label indices)]`` of an mmaction annotation list.

    Args:
        path: the list file.
        data_root: folder the relative paths are joined to (default: the list file's folder).
        multi_label: lines are ``path l1 l2 ...``; otherwise ``path label`` (the path may then contain
            spaces: the label is the last field).
    Raises:
        DatasetError: unreadable file, a line without a label or with a label that is not an integer
            >= 0 (the message names the line), or an empty list.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read the annotation list ({e})") from e
    root = Path(data_root) if data_root is not None else path.parent
    rows = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split() if multi_label else text.rsplit(None, 1)
        if len(fields) < 2:
            raise DatasetError(f"{path}:{number}: expected 'path label', got {text!r}")
        try:
            labels = tuple(int(v) for v in fields[1:])
        except ValueError:
            what = "label indices" if multi_label else "a label index"
            raise DatasetError(f"{path}:{number}: expected {what} after the path, got {text!r}") from None
        if min(labels) < 0:
            raise DatasetError(f"{path}:{number}: negative label in {text!r}")
        rows.append((os.path.join(root, fields[0]), labels))
    if not rows:
        raise DatasetError(f"{path}: no videos listed")
    return rows


def from_annotation_list(
    path: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    multi_label: bool = False,
) -> LabelledVideos:
    """A :class:`LabelledVideos` from an annotation list; without ``class_names`` the classes are
    ``0 .. max label`` named by their index."""
    rows = read_annotation_list(path, data_root, multi_label)
    if class_names is None:
        count = max(max(labels) for _, labels in rows) + 1
        class_names = [str(i) for i in range(count)]
    return LabelledVideos(
        tuple(p for p, _ in rows), tuple(lab for _, lab in rows), tuple(class_names), source=str(path)
    )


def from_class_folders(root: str | os.PathLike) -> LabelledVideos:
    """One sub-folder per class (sorted by name: the label index), videos anywhere below it.

    Raises:
        DatasetError: fewer than two class folders, or a class folder without videos.
    """
    root = Path(root)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DatasetError(f"{root}: expected one sub-folder of videos per class, found {len(classes)}")
    stray = [p.name for p in root.iterdir() if p.is_file() and is_video_file(p)]
    if stray:
        logger.warning("%s: %d videos outside the class folders are ignored", root, len(stray))
    paths, labels = [], []
    for index, folder in enumerate(classes):
        videos = sorted(p for p in folder.rglob("*") if p.is_file() and is_video_file(p))
        if not videos:
            raise DatasetError(f"{folder}: class folder without videos")
        paths += [str(v) for v in videos]
        labels += [(index,)] * len(videos)
    return LabelledVideos(tuple(paths), tuple(labels), tuple(p.name for p in classes), source=str(root))


def load_labelled(
    source: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    multi_label: bool = False,
) -> LabelledVideos:
    """A folder of class folders, or an annotation list file (see the module docstring).

    Raises:
        DatasetError: neither, or not usable.
    """
    source = Path(source)
    if source.is_dir():
        if class_names is not None:
            raise DatasetError(f"{source}: class names come from the folder names; drop the class-name file")
        return from_class_folders(source)
    if source.is_file():
        return from_annotation_list(source, data_root, class_names, multi_label)
    raise DatasetError(f"{source}: neither a folder of class folders nor an annotation list")
