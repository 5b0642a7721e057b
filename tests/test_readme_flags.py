"""Every flag the README or a page of docs/ shows on a command line is one that command's ``--help`` lists."""

from __future__ import annotations

import collections
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: A command the README runs, as it writes it: ``python -m package.module`` or ``python dir/script.py``.
COMMAND = re.compile(r"python (?:-m )?((?:tf_videoswin|porting)[./][a-z_]+|benchmarks/[a-z_]+)(?:\.py)?")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def documented_flags(text: str) -> dict[str, set[str]]:
    """The flags written after each command, on the same (backslash-continued) line or code span."""
    found = collections.defaultdict(set)
    for line in text.replace("\\\n", " ").splitlines():
        for span in re.findall(r"`([^`]+)`", line) or [line]:
            match = COMMAND.search(span)
            if match:
                found[match.group(1).replace("/", ".")].update(FLAG.findall(span[match.end() :]))
    return found


#: Scripts whose command line lives in another module (``porting.convert`` is the library function).
CLI_MODULES = {"porting.convert": "porting.convert_cli"}


def help_text(module: str, capsys: pytest.CaptureFixture[str]) -> str:
    module = CLI_MODULES.get(module, module)
    if module.startswith("benchmarks."):
        if str(ROOT / "benchmarks") not in sys.path:
            sys.path.insert(0, str(ROOT / "benchmarks"))
        module = module.removeprefix("benchmarks.")
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_documented_flags_are_read_from_commands_and_continued_lines():
    text = (
        "Run `python -m tf_videoswin.predict a.mp4 --top-k 5` or\n"
        "python benchmarks/inference.py --variant V \\\n    --compare openvino --json\n"
        "`python porting/convert.py --variant x` then `--not-a-command-flag` alone.\n"
    )
    assert documented_flags(text) == {
        "tf_videoswin.predict": {"--top-k"},
        "benchmarks.inference": {"--variant", "--compare", "--json"},
        "porting.convert": {"--variant"},
    }


DOCS = ("README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")))


def test_the_docs_are_read():
    """The README and the pages of docs/ that show command lines: a page that moves or a parse that breaks
    shows here, not as a flag check that passes on nothing."""
    assert {"README.md", "docs/converting.md", "docs/videos.md", "docs/evaluation.md"} <= set(DOCS)
    documented = documented_flags((ROOT / "README.md").read_text())
    assert {"tf_videoswin.predict", "tf_videoswin.extract_features", "porting.convert"} <= set(documented)
    pages = {doc: documented_flags((ROOT / doc).read_text()) for doc in DOCS}
    # Each page's own commands: the converter, the apps, the benchmarks.
    assert "porting.convert" in pages["docs/converting.md"]
    assert {"tf_videoswin.predict", "tf_videoswin.extract_features"} <= set(pages["docs/videos.md"])
    assert {"tf_videoswin.evaluate", "tf_videoswin.finetune"} <= set(pages["docs/evaluation.md"])
    assert {"benchmarks.inference", "benchmarks.profile_ops"} <= set(pages["docs/performance.md"])


@pytest.mark.parametrize("doc", DOCS)
def test_every_flag_in_the_docs_is_in_its_commands_help(doc, capsys):
    documented = documented_flags((ROOT / doc).read_text())
    missing = {}
    for module, flags in sorted(documented.items()):
        text = help_text(module, capsys)
        if absent := sorted(f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)):
            missing[module] = absent
    assert not missing, f"{doc}: flags that --help does not list: {missing}"
