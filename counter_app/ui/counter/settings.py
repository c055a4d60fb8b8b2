"""What a counter window is set up with, and what it holds per claim line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ...engine.money import cents
from ...services.actor import Actor
from ...services.catalogue import CatalogueEntry
from ...services.centre import CounterCentre

# What each counter settles: outpatient (general, emergency, special disease, maternity) or a pharmacy.
COUNTER_MED_TYPES = {"outpatient": ("11", "13", "14", "51"), "pharmacy": ("41",), "inpatient": ("21", "52")}
COUNTER_KIND = {"pharmacy_clerk": "pharmacy", "inpatient_cashier": "inpatient"}
KEY_PERMISSIONS = {"F7": "shift", "F10": "reprint", "F11": "refund", "F12": "outbox"}
PRESCRIBING_LEVELS = ((None, "无外配处方"), (1, "一级机构处方"), (2, "二级机构处方"), (3, "三级机构处方"))


@dataclass
class Line:
    entry: CatalogueEntry
    quantity: Decimal
    centre_note: str = ""  # inpatient: how the centre classed the item's uploaded lines

    @property
    def amount(self) -> Decimal:
        return cents(self.entry.price * self.quantity)


@dataclass(frozen=True)
class CounterSettings:
    """Where this counter works and where its slips go."""

    context: Actor  # the signed-in actor: every service call carries it
    slip_dir: Path
    printer: str | None = None  # a system printer name; None keeps slips as PDF files only
    today: dt.date | None = None  # fixed visit date (tests, training); None = the real date
    sync_warn_minutes: int = 30  # a message pending longer than this turns the status bar red
    centre: CounterCentre | None = None  # the centre online (an inpatient settlement needs it)
    centre_presettle: bool = False  # F5 also asks the centre (2206): off by default, it adds round trips
    customer_display: bool = False  # a second screen facing the patient shows the amounts (if present)
    backups: Any = None  # services.backup.Schedule: backups at shift and day close and on a timer
    escpos: str = ""  # a thermal printer spoken to in ESC/POS (usb:…, tcp:…, serial:…), with its cash drawer
    slip_size: str = "80mm"  # 80mm (thermal roll) or a5 (a sheet: the settlement list with 人民币大写)

    @property
    def slip_layout(self) -> str:
        """pdf.LAYOUTS' name of the slip size set (config slip_size)."""
        return "a5" if self.slip_size == "a5" else "thermal80"

    def visit_date(self) -> dt.date:
        return self.today or dt.date.today()
