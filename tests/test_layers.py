"""The layers of the design card, read from the source: each package imports only those below it,
Qt only through `ui/qt.py`, the window opens no database session, and the counter never imports the
reference centre (which imports the counter)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "counter_app"

# Lower ranks are imported by higher ones, never the reverse; one rank may import its own.
RANK = {
    "engine": 0,
    **dict.fromkeys(("identity", "resources", "labels", "policies", "claims", "registry_file", "infno"), 1),
    "store": 2,
    **dict.fromkeys(("logs", "config"), 3),
    "services": 4,
    **dict.fromkeys(("sync", "batch"), 5),
    "printing": 6,
    "ui": 7,
    "cli": 8,
    "__main__": 9,
}


def _imports(path: Path, package: tuple[str, ...]) -> list[tuple[str, int]]:
    """Every module `path` imports, absolute, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                names = (
                    [".".join([*base, node.module])]
                    if node.module
                    else [".".join([*base, a.name]) for a in node.names]
                )
            else:
                names = [node.module or ""]
            found += [(name, node.lineno) for name in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


def _modules(top: Path) -> list[tuple[Path, tuple[str, ...], str]]:
    """(file, its package as parts, its layer) for every module under `top`."""
    out = []
    for path in sorted(top.rglob("*.py")):
        parts = path.relative_to(top.parent).parts
        layer = parts[1] if len(parts) > 2 else parts[1].removesuffix(".py")
        out.append((path, parts[:-1], layer))
    return out


def test_every_module_of_the_counter_has_a_layer() -> None:
    layers = {layer for _, _, layer in _modules(PACKAGE)} - {"__init__"}
    assert layers <= set(RANK), f"a package with no layer: {sorted(layers - set(RANK))}"


def test_no_import_goes_against_the_layers() -> None:
    wrong = []
    for path, package, layer in _modules(PACKAGE):
        if layer == "__init__":
            continue
        for name, line in _imports(path, package):
            parts = name.split(".")
            if parts[0] != "counter_app" or len(parts) < 2:
                continue
            target = parts[1]
            if target in RANK and RANK[target] > RANK[layer]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_counter_never_imports_the_reference_centre() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, package, _ in _modules(PACKAGE)
        for name, line in _imports(path, package)
        if name.split(".")[0] == "reference_centre"
    ]
    assert not wrong, wrong


def test_qt_is_imported_only_in_ui_qt() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, package, _ in _modules(PACKAGE)
        for name, line in _imports(path, package)
        if name.split(".")[0] in ("PySide6", "shiboken6") and path != PACKAGE / "ui" / "qt.py"
    ]
    assert not wrong, wrong


def test_the_window_opens_no_database_session() -> None:
    """What the window shows comes from the services, which open (and close) the sessions."""
    wrong = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((PACKAGE / "ui").rglob("*.py"))
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".sessions(" in text or "Session(" in text
    ]
    assert not wrong, wrong


def test_the_checker_sees_an_import_against_the_layers(tmp_path: Path) -> None:
    """The engine importing the store would be caught (the test above can fail)."""
    engine = tmp_path / "counter_app" / "engine"
    engine.mkdir(parents=True)
    (engine / "bad.py").write_text("from ..store import Database\n", encoding="utf-8")
    ((path, package, layer),) = _modules(tmp_path / "counter_app")
    assert layer == "engine"
    assert _imports(path, package) == [("counter_app.store", 1)]
