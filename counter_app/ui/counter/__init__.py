"""The counter window, made of parts that own their state: the window lays them out and maps the
keys (window.py); the desk every part is given (desk.py); the scan bar (scan.py), the claim panel
(claim.py), the person and settlement panels, the money steps (settle.py), the inpatient stay
(stay.py), the slips (slips.py) and the drawer and the day (drawer.py). Each dialog is its own
module in ui/dialogs/ and takes the desk, never the window."""

from .settings import CounterSettings, Line
from .window import CounterWindow

__all__ = ["CounterSettings", "CounterWindow", "Line"]
