"""What every bench does first: find the project, and give the audit a key of its own.

A bench runs as a script (`python bench/x.py`), outside pytest's conftest: without a key of its
own it would look for the machine's (`$COUNTER_APP_AUDIT_KEY`), which a bench must never touch.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "COUNTER_APP_AUDIT_KEY", str(Path(tempfile.mkdtemp(prefix="bench-audit-key-")) / "audit.key")
)
