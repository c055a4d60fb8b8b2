"""`counter-app run --smoke-visit`, the check the bundle and the .deb run (issue 27): one visit
settled through the real window, offscreen, in its own process, and its slip read back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader


@pytest.mark.slow
def test_a_smoke_visit_settles_through_the_window_and_its_slip_reads_back(tmp_path):
    env = {
        **os.environ,
        "COUNTER_APP_PASSWORD": "1234",
        "QT_QPA_PLATFORM": "offscreen",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "counter_app",
            "run",
            "--demo",
            "--persons",
            "60",
            "--db",
            f"sqlite:///{tmp_path / 'demo.sqlite3'}",
            "--sign-in",
            "c001",
            "--slips",
            str(tmp_path / "slips"),
            "--smoke-visit",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"smoke visit: settled (\S+), slip (\S+\.pdf)", done.stdout)
    assert found, done.stdout
    setl_no, slip = found.group(1), Path(found.group(2))
    text = PdfReader(slip).pages[0].extract_text()
    assert setl_no in text.replace("\n", "") and "结算单" in text
