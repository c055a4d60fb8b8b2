"""The README's layout section matches the tree: every path it names is there, and every package is
named, so a module moved or added without the README saying so fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_paths(readme: str) -> list[str]:
    """The backticked paths in the first column of the README's layout table; a bare name beside a
    path (`services/a.py`, `b.py`) is in that path's folder."""
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    paths = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cell = re.findall(r"`([^`]+)`", line.split("|")[1])
            base = cell[0].rstrip("/").rsplit("/", 1)[0] if "/" in cell[0].rstrip("/") else ""
            folder = cell[0] if cell[0].endswith("/") else base
            paths += [
                cell[0],
                *(p if "/" in p.rstrip("/") else f"{folder.rstrip('/')}/{p}" for p in cell[1:]),
            ]
    return paths


def _exists(path: str) -> bool:
    if "*" in path:
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def test_every_path_the_layout_names_is_in_the_tree() -> None:
    paths = _layout_paths((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(paths) > 20
    missing = [p for p in paths if not _exists(p)]
    assert not missing, f"the README's layout names paths that are not there: {missing}"


def test_every_package_is_in_the_layout() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = {p.rstrip("/") for p in _layout_paths(readme)}
    packages = sorted(
        str(init.parent.relative_to(ROOT))
        for top in ("counter_app", "reference_centre")
        for init in (ROOT / top).rglob("__init__.py")
        if "migrations" not in init.parts
    )
    unnamed = [p for p in packages if p not in named and p not in ("counter_app",)]
    assert not unnamed, f"packages the README's layout does not name: {unnamed}"


def test_the_layout_check_sees_a_missing_path() -> None:
    table = "## Layout\n\n| path | what |\n|---|---|\n| `counter_app/no_such_module.py` | gone |\n"
    assert _layout_paths(table) == ["counter_app/no_such_module.py"]
    assert not _exists("counter_app/no_such_module.py")
