"""The README and docs/: a short front door, figures that come from the measurements' one home, tables that
agree with the registry, and no machine, date or timing history outside ``benchmarks/``."""

from __future__ import annotations

import json
import re

import pytest

from tf_videoswin.variants import VARIANTS

from .conftest import ROOT

DOCS = ROOT / "docs"


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (header and separator dropped) of the first table under ``heading``."""
    lines = text.split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[2:]


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for command in ("make demo", "make test"):
        assert f"{command}  " in readme or f"{command} " in readme
    # Every page of the docs is linked from the README, and every link to docs/ names an existing page.
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", readme))
    assert linked == {p.name for p in DOCS.glob("*.md")}
    assert "KERAS_BACKEND" in readme


def test_mkdocs_nav_lists_every_page():
    nav = re.findall(r"^  - [^:]+: ([\w-]+\.md)$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    assert sorted(nav) == sorted(p.name for p in DOCS.glob("*.md"))


@pytest.mark.parametrize("doc", ["README.md", "docs/converting.md"])
def test_variant_tables_follow_the_registry(doc):
    rows = _table((ROOT / doc).read_text(encoding="utf-8"), "## Variants")
    assert [r[0].strip("`") for r in rows] == list(VARIANTS)
    for name, source, _arch, _window, classes, params, accuracy in rows:
        cfg = VARIANTS[name.strip("`")]
        assert source == cfg.layout
        assert int(classes) == cfg.num_classes
        assert int(params.replace(",", "")) == cfg.num_parameters
        top1, top5 = (float(x) for x in accuracy.split("/"))
        assert (top1, top5) == (cfg.top1, cfg.top5)


def test_performance_table_is_the_current_run_of_results_json():
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    run = next(r for r in results["runs"] if r["id"] == results["current"])
    page = (DOCS / "performance.md").read_text(encoding="utf-8")
    rows = {r[0]: r[1:] for r in _table(page, "## Current numbers")}
    keys = {
        "floor": "floor_s",
        "this port, SavedModel, float32": "tf_float32_s",
        "OpenVINO f32, official graph": "openvino_f32_s",
        "ONNX Runtime, official graph": "onnxruntime_s",
        "`reference_torch`": "reference_torch_s",
        "this port, bfloat16": "tf_bfloat16_s",
        'this port, bfloat16 with `attention_precision="bfloat16"`': "tf_bfloat16_attention_bfloat16_s",
        "OpenVINO bf16, official graph": "openvino_bf16_s",
        "bfloat16 drift from float32": "bfloat16_pooled_cosine",
    }
    seen = set()
    for label, cells in rows.items():
        plain = re.sub(r"\*\*|\s*\(.*\)$", "", label).strip()
        key = keys[max((p for p in keys if plain.startswith(p)), key=len)]
        seen.add(key)
        for model, cell in zip(("swin_t", "swin_b"), cells, strict=True):
            figures = run["models"][model]
            value = float(re.match(r"\**([0-9.]+)", cell).group(1))
            assert value == figures[key], f"{label} / {model}: {cell} against {figures[key]}"
            # Ratios in brackets follow from the run's figures (rounded seconds: within 0.02).
            if ratio := re.search(r"\(([0-9.]+)x", cell):
                base = figures["floor_s"] if "floor" in cell else figures["tf_float32_s"]
                expected = figures[key] / base if "floor" in cell else base / figures[key]
                assert float(ratio.group(1)) == pytest.approx(expected, abs=0.02), f"{label} / {model}"
            if tf_ov := re.search(r"TF/OV ([0-9.]+)", cell):
                assert float(tf_ov.group(1)) == pytest.approx(
                    figures["tf_float32_s"] / figures["openvino_f32_s"], abs=0.02
                )
    assert seen == set(keys.values())


#: What belongs in benchmarks/RESULTS.md only: CPU models, host remarks, dates, run-by-run wording.
MEASUREMENT_HISTORY = re.compile(
    r"paired rounds|busier host|Zen ?[2-5]\b|Sapphire|Xeon|EPYC|GFLOP/s|\b20[0-9]{2}-[01][0-9]-[0-3][0-9]\b"
)


def test_measurements_live_in_one_place():
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "Makefile", *DOCS.glob("*.md")]
    for package in ("tf_videoswin", "porting", "reference_torch"):
        files += sorted((ROOT / package).rglob("*.py"))
    offenders = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if MEASUREMENT_HISTORY.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert not offenders, "belongs in benchmarks/RESULTS.md:\n" + "\n".join(offenders)


def test_user_facing_text_names_no_issue_numbers():
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *DOCS.glob("*.md")]
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in files
        for m in re.finditer(r"\bissues? #?\d+", p.read_text(encoding="utf-8"), flags=re.I)
        if "mmengine issue" not in p.read_text(encoding="utf-8")[max(0, m.start() - 9) : m.end()]
    ]
    assert not found, found
