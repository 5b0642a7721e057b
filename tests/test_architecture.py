"""The floors of the code base: who may import whom, no import cycles, the layout page = tree.

Imports are read from the source (AST), module-level and function-level alike, so a lazy import that
crosses a floor is caught too. The floors are described once, in docs/architecture.md, whose layout table
the last tests read.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGES = ("tf_videoswin", "reference_torch", "porting")
FLOOR0 = (
    "tf_videoswin.backend",
    "tf_videoswin.geometry",
    "tf_videoswin.files",
    "tf_videoswin.metrics",
    "tf_videoswin.output_lock",
    "tf_videoswin.config",
    "tf_videoswin.console",
    "tf_videoswin.cpu",
    "tf_videoswin.variants",
    "tf_videoswin.errors",
    "tf_videoswin.optional",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports() -> dict[str, list[tuple[str, bool]]]:
    """``module -> [(imported module, at module level)]`` for every module of the three packages."""
    graph: dict[str, list[tuple[str, bool]]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            top_level = {id(n) for n in tree.body} | {
                id(n) for stmt in tree.body if isinstance(stmt, ast.If | ast.Try) for n in ast.walk(stmt)
            }
            found = []
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found += [(alias.name, id(node) in top_level) for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    target = _resolve(module, path.name == "__init__.py", node)
                    # ``from package import module`` imports the submodule when it is one.
                    for alias in node.names:
                        sub = f"{target}.{alias.name}"
                        is_module = (ROOT / sub.replace(".", "/")).with_suffix(".py").is_file() or (
                            ROOT / sub.replace(".", "/") / "__init__.py"
                        ).is_file()
                        found.append((sub if is_module else target, id(node) in top_level))
            graph[module] = [(m, top) for m, top in found if m.split(".")[0] in PACKAGES]
    return graph


GRAPH = _imports()


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# (modules the rule is about, what they may import from this project)
RULES = [
    (FLOOR0, FLOOR0),
    (("tf_videoswin.model",), (*FLOOR0, "tf_videoswin.model")),
    (("tf_videoswin.video",), (*FLOOR0, "tf_videoswin.video")),
    (("reference_torch",), (*FLOOR0, "reference_torch")),
    (("tf_videoswin.export",), (*FLOOR0, "tf_videoswin.model", "tf_videoswin.export")),
    (
        ("tf_videoswin.features",),
        (*FLOOR0, "tf_videoswin.video", "tf_videoswin.export", "tf_videoswin.features"),
    ),
    (
        ("porting",),
        (
            *FLOOR0,
            "tf_videoswin.model",
            "tf_videoswin.export",
            "reference_torch",
            "porting",
        ),
    ),
]


@pytest.mark.parametrize(("floor", "allowed"), RULES, ids=[r[0][0] for r in RULES])
def test_floors_import_only_what_is_below_them(floor, allowed):
    bad = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _under(module, floor)
        for target, _ in targets
        if target not in ("tf_videoswin",) and not _under(target, allowed)
    ]
    assert not bad, "\n".join(bad)


def test_the_converter_sits_below_the_apps():
    """``porting`` (the converter, its command lines, the port that ``from_pretrained`` and evaluation use)
    imports no app, nor what the apps build on: its command lines share the console module with the apps."""
    above = (
        "tf_videoswin.cli",
        "tf_videoswin.pretrained",
        "tf_videoswin.evaluation",
        "tf_videoswin.training",
        "tf_videoswin.features",
        "tf_videoswin.predict",
        "tf_videoswin.extract_features",
        "tf_videoswin.evaluate",
        "tf_videoswin.finetune",
    )
    bad = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _under(module, ("porting",))
        for target, _ in targets
        if _under(target, above)
    ]
    assert not bad, "\n".join(bad)
    command_lines = ("porting.convert_cli", "porting.check_parity")
    assert any(t == "tf_videoswin.console" for m in command_lines for t, _ in GRAPH[m])


def test_console_is_pure_python():
    """The console module loads before TensorFlow, so that it can silence TensorFlow's start-up."""
    assert {t for t, _ in GRAPH["tf_videoswin.console"]} <= {"tf_videoswin.config", "tf_videoswin.backend"}
    tree = ast.parse((ROOT / "tf_videoswin" / "console.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0
    }
    assert not imported & {"tensorflow", "keras", "torch", "numpy", "tf_keras"}, imported


def _documented_floors() -> dict[str, int]:
    """``module prefix -> floor`` from the layout table of docs/architecture.md (rows with a floor)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    floors: dict[str, int] = {}
    for line in text.split("## Layout", 1)[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        first, *rest = re.findall(r"`([^`]+)`", cells[1])
        folder = first.rsplit("/", 1)[0] if "/" in first.rstrip("/") else ""
        for path in [first, *(f"{folder}/{r}" for r in rest)]:
            floors[path.rstrip("/").removesuffix(".py").replace("/", ".")] = int(cells[0])
    return floors


FLOORS = _documented_floors()


def _floor(module: str) -> int | None:
    """The documented floor of ``module`` (its longest documented prefix), None where none is documented."""
    matches = [p for p in FLOORS if _under(module, (p,))]
    return FLOORS[max(matches, key=len)] if matches else None


def test_no_import_runs_back_up_the_documented_floors():
    """Every import, module-level or inside a function, goes to the importer's floor or one below it."""
    assert FLOORS, "docs/architecture.md has no floors"
    bad = []
    for module, targets in GRAPH.items():
        own = _floor(module)
        for target, _ in targets:
            theirs = _floor(target)
            if own is not None and theirs is not None and theirs > own:
                bad.append(f"{module} (floor {own}) imports {target} (floor {theirs})")
    assert not bad, "\n".join(sorted(set(bad)))


def test_every_module_has_a_floor():
    missing = [m for m in GRAPH if m not in PACKAGES and _floor(m) is None]
    assert not missing, missing


def test_no_package_loop():
    """Packages (``tf_videoswin.<sub>``, ``porting``, ``reference_torch``) import each other without a loop,
    counting imports inside functions too."""

    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "tf_videoswin" and len(parts) > 1 else parts[0]

    edges: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target, _ in targets:
            if target != "tf_videoswin" and package(target) != package(module):
                edges.setdefault(package(module), set()).add(package(target))
    edges.pop("tf_videoswin", None)  # the root's lazy re-exports (``from_pretrained``, ``build_model``)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("package loop: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_from_pretrained_does_not_import_the_export_orchestration():
    writers = (
        "tf_videoswin.export.writer",
        "tf_videoswin.export.savedmodel",
        "tf_videoswin.export.keras_files",
    )
    imported = {t for t, _ in GRAPH["tf_videoswin.pretrained"]}
    assert not {
        t for t in imported if _under(t, (*writers, "tf_videoswin.export.deploy", "porting.pipeline"))
    }


def test_package_root_imports_only_floor_zero_eagerly():
    eager = [t for t, top in GRAPH["tf_videoswin"] if top]
    assert all(_under(t, FLOOR0) for t in eager), eager


def test_no_import_cycles():
    """Module-level imports form a DAG (a lazy import inside a function may point up, never in a loop)."""
    edges = {m: {t for t, top in targets if top and t in GRAPH and t != m} for m, targets in GRAPH.items()}
    # A package imports its own submodules from __init__: that is not a cycle of meaning.
    for m in edges:
        edges[m] = {t for t in edges[m] if not t.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_layout_table_matches_the_tree():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    assert rows, "docs/architecture.md has no Layout table"
    column = rows[0].index("path")
    listed = set()
    for row in rows[2:]:
        # "`porting/rules.py`, `rule_engine.py`": names after the first share its folder.
        first, *rest = re.findall(r"`([^`]+)`", row[column])
        folder = first.rstrip("/").rsplit("/", 1)[0] if "/" in first.rstrip("/") else ""
        for p in [first, *(f"{folder}/{r}" if folder else r for r in rest)]:
            assert (ROOT / p).exists(), f"docs/architecture.md lists {p}, which does not exist"
            listed.add(p.rstrip("/"))
    # Every module and sub-package of tf_videoswin and porting appears (directly or through its folder).
    for package in ("tf_videoswin", "porting"):
        for path in sorted((ROOT / package).iterdir()):
            if path.name.startswith("_") or path.suffix not in (".py", ""):
                continue
            rel = path.relative_to(ROOT).as_posix()
            assert rel in listed, f"docs/architecture.md does not mention {rel}"


def test_paths_named_in_the_docs_exist():
    """A file the README, a page of docs/ or the CHANGELOG names in backticks (``tf_videoswin/...``,
    ``porting/...``, ``benchmarks/...``) exists: moving code must move its documentation with it."""
    pattern = re.compile(r"`((?:tf_videoswin|porting|reference_torch|benchmarks|notebooks|tests)/[\w/.-]+)`")
    missing = []
    docs = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
    for doc in (*docs, "CHANGELOG.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        if doc == "CHANGELOG.md":  # released entries name the paths of their time
            text = text.split("\n## [", 2)[1]
        for path in pattern.findall(text):
            if not (ROOT / path.rstrip("/")).exists():
                missing.append(f"{doc}: {path}")
    assert not missing, "\n".join(missing)


def test_tolerances_and_output_metrics_are_defined_once():
    """Every tolerance of the library is a constant of ``tf_videoswin/metrics.py`` (one reload tolerance for
    a port's exports), and the NumPy comparisons live there, not in the converter or the export package."""
    defined = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                targets = node.targets if isinstance(node, ast.Assign) else []
                for name in (t.id for t in targets if isinstance(t, ast.Name) and "TOLERANCE" in t.id):
                    defined.setdefault(name, []).append(_module_name(path))
                if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in (
                    "max_abs",
                    "topk_overlap",
                    "drift",
                    "cosine_rows",
                    "ParityReport",
                ):
                    defined.setdefault(node.name, []).append(_module_name(path))
    assert {k: v for k, v in defined.items() if v != ["tf_videoswin.metrics"]} == {}
    from tf_videoswin import metrics

    assert metrics.RELOAD_TOLERANCE == 1e-6 and metrics.TRAINED_RELOAD_TOLERANCE == 1e-5
