"""Checkpoint intake: unsafe pickles, NaN weights, hashes, bare state_dicts, --all and check_parity."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import OrderedDict

import pytest
import torch

from porting import check_parity, convert_cli
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
        convert_cli.main(["--variant", TINY, "--checkpoint", str(path), "--output-dir", str(tmp_path / "o")])
        == 2
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
    assert convert_cli.main(["--variant", TINY, "--checkpoint", str(path), "--output-dir", str(out)]) == 2
    assert "backbone.layers.1.blocks.0.mlp.fc2.weight (0 NaN, 1 Inf)" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_sha256_mismatch_exit_2(tmp_path, tiny_checkpoint, capsys):
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--sha256", "ab" * 32, "--no-export"]
    assert convert_cli.main(argv) == 2
    assert "sha256 mismatch" in capsys.readouterr().err


def test_all_converts_a_directory_and_prints_a_table(tmp_path, tiny_export, tiny_checkpoint, capsys):
    # The export from the session fixture is up to date; --all reports it without redoing work.
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / f"{TINY}.pth").symlink_to(tiny_checkpoint)
    (ckpts / "unrelated.pth").write_bytes(b"x")
    assert convert_cli.main(["--all", str(ckpts), "--output-dir", str(tiny_export.parent)]) == 0
    out = capsys.readouterr().out
    assert "variant" in out and TINY in out and "up to date" in out


def test_all_on_empty_directory_exit_2(tmp_path, capsys):
    assert convert_cli.main(["--all", str(tmp_path)]) == 2
    assert "no <variant>.pth files" in capsys.readouterr().err


@pytest.mark.slow  # ~30 s: check_parity.py end to end, twice
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


def test_check_parity_refuses_a_savedmodel_the_metadata_does_not_record(
    tmp_path, tiny_export, tiny_checkpoint, capsys
):
    """The SavedModels compared are checked against the export's sha256 first: exit 2 naming the file."""
    export = tmp_path / "export"
    shutil.copytree(tiny_export, export, copy_function=os.link)  # hard links: no 300 MB copy
    graph = export / "classifier" / "saved_model.pb"
    data = graph.read_bytes()
    graph.unlink()  # a new file, not the linked original
    graph.write_bytes(data + b"\0")
    argv = ["--export", str(export), "--checkpoint", str(tiny_checkpoint)]
    assert check_parity.main(argv) == 2
    err = capsys.readouterr().err
    assert "classifier" in err and "truncated or replaced" in err


def test_checkpoint_digest_in_metadata_is_the_file_hash(tiny_export, tiny_checkpoint):
    from tf_videoswin.export import ExportMetadata

    digest = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    assert ExportMetadata.read(tiny_export).source["checkpoint_sha256"] == digest
    assert (tiny_export / "classifier" / "videoswin_metadata.json").is_file()


def _mmengine_style_checkpoint(monkeypatch) -> dict:
    """What mmengine's Runner.save_checkpoint writes: meta with numpy values, and a message_hub whose
    scalars are ``mmengine.logging.history_buffer.HistoryBuffer`` objects (a look-alike class registered
    under that module path, so the pickle names it exactly as a real one; mmengine is not installed)."""
    import sys
    import types

    import numpy as np

    class HistoryBuffer:
        def __init__(self) -> None:
            self.max_length = 1000000
            self._log_history = np.array([2.5, 1.25])
            self._count_history = np.array([1, 1])

    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    for name in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    return {
        "meta": {
            "cfg": "model = dict(type='Recognizer3D')\n",
            "seed": 0,
            "experiment_name": "swin",
            "time": "20220930_000000",
            "mmengine_version": "0.1.0",
            "dataset_meta": {},
            "epoch": 30,
            "iter": 180000,
            "best_score": np.float64(0.789),
            "best_epoch": np.int64(30),
            "flag": np.bool_(True),
            "dtype": np.dtype("float32"),
            "scores": np.array([0.5, 0.789], np.float32),
        },
        "state_dict": OrderedDict(w=torch.zeros(2)),
        "message_hub": {
            "log_scalars": {"train/loss": HistoryBuffer()},
            "runtime_info": {"val/acc/top1": np.float32(0.789), "name": np.str_("swin")},
        },
    }


def test_mmengine_meta_loads_without_trust(tmp_path, monkeypatch):
    import numpy as np

    from porting.safe_globals import InertRecord

    path = tmp_path / "mmengine.pth"
    torch.save(_mmengine_style_checkpoint(monkeypatch), path)
    # Plain weights_only loading refuses it (mmengine issue 1655) ...
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(path, weights_only=True)
    before = torch.serialization.get_safe_globals()
    obj = load_checkpoint_file(path)  # ... the converter's does, without --trust-checkpoint
    meta = obj["meta"]
    assert meta["best_score"] == np.float64(0.789) and type(meta["best_epoch"]) is np.int64
    assert meta["dtype"] == np.dtype("float32")
    np.testing.assert_array_equal(meta["scores"], np.array([0.5, 0.789], np.float32))
    buffer = obj["message_hub"]["log_scalars"]["train/loss"]
    assert (
        isinstance(buffer, InertRecord)
        and buffer.pickled_as == "mmengine.logging.history_buffer.HistoryBuffer"
    )
    assert buffer.state["_log_history"].tolist() == [2.5, 1.25]
    assert list(extract_state_dict(obj)) == ["w"]
    # Scoped: nothing stays allowed after the load. torch keeps the allowed globals in a set and returns
    # list(set): adding and removing ours can reorder that list (seen under xdist once other tests had
    # imported torch.distributed.tensor, which registers a dozen globals), so compare what is allowed.
    assert set(torch.serialization.get_safe_globals()) == set(before)
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(path, weights_only=True)


def test_globals_allowed_by_the_caller_stay_allowed(tmp_path):
    import numpy as np

    path = tmp_path / "scalar.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": {"x": np.float64(1.0)}}, path)
    mine = (np.dtype, "numpy.dtype")
    with torch.serialization.safe_globals([mine]):
        load_checkpoint_file(path)
        assert mine in torch.serialization.get_safe_globals()


def test_objects_outside_the_plain_types_are_still_refused(tmp_path, capsys):
    import numpy as np

    path = tmp_path / "object_array.pth"  # numpy object arrays can hold anything: not a plain type
    torch.save({"meta": {"x": np.array([None], dtype=object)}, "state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match=r"numpy\.dtypes\.ObjectDType.*--trust-checkpoint"):
        load_checkpoint_file(path)
    assert load_checkpoint_file(path, trust_checkpoint=True)["meta"]["x"][0] is None
    assert convert_cli.main(["--variant", TINY, "--checkpoint", str(path), "--no-export"]) == 2
    assert "ObjectDType" in capsys.readouterr().err
