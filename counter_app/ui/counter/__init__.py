"""The counter window, as rooms one can find: the window and its keys (window.py), the person
panel, the claim (claim.py), the settlement panel and the money steps (settle.py), the inpatient
stay (stay.py), the drawer and the day (drawer.py); each dialog is its own module in ui/dialogs/."""

from .settings import CounterSettings, Line
from .window import CounterWindow

__all__ = ["CounterSettings", "CounterWindow", "Line"]
