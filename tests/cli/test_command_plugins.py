"""`counter-app centre` comes from the reference centre's entry point; a plugin named in some
installed metadata but not shipped (a bundle that left the module out) is no command, not a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from counter_app.cli import build_parser


def test_the_reference_centre_adds_its_command() -> None:
    parser = build_parser()
    assert "centre        run the reference insurance centre" in parser.epilog
    args = parser.parse_args(["centre", "--port", "0"])
    assert args.port == 0 and args.own_log  # the centre keeps out of the counter's log


def test_a_plugin_whose_module_is_missing_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "ghost_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ghost-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[counter_app.commands]\nghost = no_such_module_anywhere:add_parser\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    parser = build_parser()
    assert "ghost" not in parser.epilog and "centre" in parser.epilog
    with pytest.raises(SystemExit):
        parser.parse_args(["ghost"])
    assert "no_such_module_anywhere" not in sys.modules
