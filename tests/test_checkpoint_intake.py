"""Checkpoint intake: unsafe pickles, NaN weights, hashes, bare state_dicts, --all and check_parity."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import pytest
import torch

from porting import check_parity, convert
from porting.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file

from .conftest import TINY


class NotATensor:
    """Any object outside torch's weights_only allow-list."""

    def __init__(self) -> None:
        self.value = 1


def test_pickled_objects_are_refused_unless_trusted(tmp_path, capsys):
    path = tmp_path / "unsafe.pth"
    torch.save({"meta": {"config": NotATensor()}, "state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        load_checkpoint_file(path)
    assert isinstance(load_checkpoint_file(path, trust_checkpoint=True)["meta"]["config"], NotATensor)
    assert (
        convert.main(["--variant", TINY, "--checkpoint", str(path), "--output-dir", str(tmp_path / "o")]) == 2
    )
    assert "--trust-checkpoint" in capsys.readouterr().err


def test_layouts_bare_and_wrapped():
    sd = OrderedDict(a=torch.zeros(1))
    assert list(extract_state_dict({"meta": {}, "state_dict": sd})) == ["a"]
    assert list(extract_state_dict(sd)) == ["a"]
    assert list(extract_state_dict({"module.a": torch.zeros(1)})) == ["a"]
    with pytest.raises(CheckpointError, match="no state_dict found"):
        extract_state_dict({"epoch": 3, "optimizer": {}})


def test_empty_and_garbage_files(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint_file(empty)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x80\x02not a checkpoint" * 100)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_file(garbage)


def test_nan_weights_exit_2_naming_the_key(tmp_path, synthetic_state_dict, capsys):
    sd = OrderedDict((k, torch.from_numpy(v.copy())) for k, v in synthetic_state_dict(TINY).items())
    sd["backbone.layers.1.blocks.0.mlp.fc2.weight"][0, 0] = float("inf")
    path = tmp_path / "nan.pth"
    torch.save({"meta": {}, "state_dict": sd}, path)
    out = tmp_path / "out"
    assert convert.main(["--variant", TINY, "--checkpoint", str(path), "--output-dir", str(out)]) == 2
    assert "backbone.layers.1.blocks.0.mlp.fc2.weight (0 NaN, 1 Inf)" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_sha256_mismatch_exit_2(tmp_path, tiny_checkpoint, capsys):
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--sha256", "ab" * 32, "--no-export"]
    assert convert.main(argv) == 2
    assert "sha256 mismatch" in capsys.readouterr().err


def test_all_converts_a_directory_and_prints_a_table(tmp_path, tiny_export, tiny_checkpoint, capsys):
    # The export from the session fixture is up to date; --all reports it without redoing work.
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / f"{TINY}.pth").symlink_to(tiny_checkpoint)
    (ckpts / "unrelated.pth").write_bytes(b"x")
    assert convert.main(["--all", str(ckpts), "--output-dir", str(tiny_export.parent)]) == 0
    out = capsys.readouterr().out
    assert "variant" in out and TINY in out and "up to date" in out


def test_all_on_empty_directory_exit_2(tmp_path, capsys):
    assert convert.main(["--all", str(tmp_path)]) == 2
    assert "no <variant>.pth files" in capsys.readouterr().err


def test_check_parity_passes_and_detects_tampering(tmp_path, tiny_export, tiny_checkpoint, capsys):
    argv = ["--variant", TINY, "--export", str(tiny_export), "--checkpoint", str(tiny_checkpoint)]
    assert check_parity.main([*argv, "--shape", "1,3,6,40,52"]) == 0
    assert "parity ok" in capsys.readouterr().out
    # A checkpoint with one changed weight no longer matches the export: exit 1.
    state = torch.load(tiny_checkpoint, weights_only=True)
    state["state_dict"]["cls_head.fc_cls.bias"] += 1.0
    other = tmp_path / "other.pth"
    torch.save(state, other)
    argv = [
        "--variant",
        TINY,
        "--export",
        str(tiny_export),
        "--checkpoint",
        str(other),
        "--shape",
        "1,3,6,40,52",
    ]
    assert check_parity.main(argv) == 1
    captured = capsys.readouterr()
    assert "FAILED: logits" in captured.err and "sha256 differs" in captured.err


def test_check_parity_bad_export_dir_exit_2(tmp_path, tiny_checkpoint, capsys):
    argv = ["--variant", TINY, "--export", str(tmp_path), "--checkpoint", str(tiny_checkpoint)]
    assert check_parity.main(argv) == 2
    assert "is not a SavedModel" in capsys.readouterr().err


def test_checkpoint_digest_in_metadata_is_the_file_hash(tiny_export, tiny_checkpoint):
    from tf_videoswin.export import ExportMetadata

    digest = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    assert ExportMetadata.read(tiny_export).source["checkpoint_sha256"] == digest
    assert (tiny_export / "classifier" / "videoswin_metadata.json").is_file()
