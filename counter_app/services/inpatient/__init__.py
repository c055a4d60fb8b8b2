"""Inpatient stays, settled with the insurance centre: admission (2401) with a deposit (押金), fee
lines posted during the stay (2301, a correction cancels what it corrects: 2302), and the
settlement at discharge (2402, 2303 → 2304) or part way through a long stay (`interim`,
mid_setl_flag 1), cancelled with a supervisor's approval (2305).

Admission and fee posting work offline: their messages queue. Inpatient benefits are the
centre's to compute, so a discharge needs its answer and says so plainly when there is none,
keeping the stay and its deposit open. The centre's fund payment and personal part come back
from 2303; the embedded engine then draws the own account and family accounts for the personal
part by the same rules as outpatient (HF-4 covers inpatient costs); the deposit covers the cash
part, and the rest is paid back or collected. That is the preview the patient confirms. 2304
settles with it; if the centre's answer differs from the confirmed preview, nothing is recorded,
the centre's settlement is reversed (2601), and the new split is shown to confirm.

While admitted the person is marked hospitalized, so outpatient pooling is refused for them
(WH-22 (2)). The year is that of the discharge date (decision 6).

The stay and its fees (stay.py); its settlement with the centre (discharge.py).
"""

from ..errors import CentreRefused, CentreUnavailable  # the inpatient desk catches them
from .discharge import (
    CENTRE_PARTS,
    COMPARED,
    CentreDisagrees,
    CentrePort,
    DischargeChanged,
    Discharged,
    DischargePreview,
    StayClaim,
    cancel,
    discharge,
    discharge_preview,
)
from .stay import INPATIENT, Stay, StayFee, admit, current_stay, post_fee

__all__ = [
    "CENTRE_PARTS",
    "COMPARED",
    "INPATIENT",
    "CentreDisagrees",
    "CentrePort",
    "CentreRefused",
    "CentreUnavailable",
    "DischargeChanged",
    "DischargePreview",
    "Discharged",
    "Stay",
    "StayClaim",
    "StayFee",
    "admit",
    "cancel",
    "current_stay",
    "discharge",
    "discharge_preview",
    "post_fee",
]
