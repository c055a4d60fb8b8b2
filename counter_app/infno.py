"""The national platform's transaction numbers (infno), declared once: the services queue messages
under them, sync sends them, and the reference centre answers them (national-interface.md)."""

from __future__ import annotations

SIGN_IN, SIGN_OUT = "9001", "9002"
PERSON_INFO = "1101"
FILE_UPLOAD, FILE_DOWNLOAD = "9101", "9102"
PHARMACY_PRESETTLE, PHARMACY_SETTLE, PHARMACY_CANCEL = "2101", "2102", "2103"
REGISTER, REGISTER_CANCEL = "2201", "2202"
VISIT_INFO = "2203"
FEE_UPLOAD, FEE_CANCEL = "2204", "2205"
OUTPATIENT_PRESETTLE, OUTPATIENT_SETTLE, OUTPATIENT_CANCEL = "2206", "2207", "2208"
INPATIENT_FEE_UPLOAD, INPATIENT_FEE_CANCEL = "2301", "2302"
INPATIENT_PRESETTLE, INPATIENT_SETTLE, INPATIENT_CANCEL = "2303", "2304", "2305"
ADMIT, DISCHARGE, ADMIT_CANCEL, DISCHARGE_CANCEL = "2401", "2402", "2404", "2405"
REVERSAL = "2601"
RECONCILE_TOTALS = "3201"
RECONCILE_DETAIL = "3202"
# The national catalogues (national-interface.md, "Catalogues"): downloads answered with a file
# to fetch by 9102, and paged queries answered in JSON.
ITEM_DOWNLOADS = ("1301", "1302", "1305", "1306")
DISEASE_DOWNLOADS = ("1307", "1309")
CATALOGUE_DOWNLOADS = (*ITEM_DOWNLOADS, *DISEASE_DOWNLOADS)
TERM_QUERIES = ("1312", "1318", "1319")
# fsDownloadIn.fixmedins_code of a catalogue file: zebone and binzhe's controller send "plc" (the
# public files); newtouch and binzhe's table put "plc" in filename instead. A project reading.
CATALOGUE_FILE_CODE = "plc"

SETTLE_INFNOS = (OUTPATIENT_SETTLE, INPATIENT_SETTLE, PHARMACY_SETTLE)
CANCEL_INFNOS = (OUTPATIENT_CANCEL, INPATIENT_CANCEL, PHARMACY_CANCEL)
REGISTER_INFNOS = (REGISTER, ADMIT)  # their answer carries the visit's mdtrt_id
