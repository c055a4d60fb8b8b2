"""Where the shipped data files live (policy packs, fonts), installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_dir() -> Path:
    """The `resources/` folder: packaged as `counter_app_resources` in a wheel, or the checkout's."""
    try:
        return Path(str(resources.files("counter_app_resources")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "resources"
