"""Who is at the counter: the person, their account and year totals, and their family providers."""

from __future__ import annotations

import datetime as dt

from ... import labels
from ...engine.money import fmt
from ...services import lookup
from ..qt import (
    QFormLayout,
    QGroupBox,
    QLabel,
)
from .widgets import label as _label


class PersonPanel(QGroupBox):
    def __init__(self, inpatient: bool = False) -> None:
        """`inpatient`: the inpatient counter shows no outpatient year totals (issue 27): a stay's
        pooling is the centre's, and the stay line below the panel says where the patient is."""
        super().__init__("参保人")
        form = QFormLayout(self)
        self.form = form
        self.fields: dict[str, QLabel] = {}
        for key, title in (
            ("name", "姓名"),
            ("certno", "身份证号"),
            ("insutype", "险种"),
            ("psn_type", "人员类别"),
            ("status", "参保状态"),
            ("balance", "个人账户余额"),
            ("deductible", "本年起付线"),
            ("pooled", "本年门诊统筹"),
            ("place", "参保地"),
            ("source", "信息来源"),
        ):
            self.fields[key] = _label(name=f"person_{key}")
            form.addRow(title + "：", self.fields[key])
        self.providers = _label(name="person_providers")
        self.providers.setWordWrap(True)
        form.addRow("共济提供人：", self.providers)
        if inpatient:
            for key in ("deductible", "pooled"):
                form.setRowVisible(self.fields[key], False)

    def show_person(
        self, view: lookup.PersonView | None, deductible: str, cap: str, now: dt.datetime | None = None
    ) -> None:
        if view is None:
            for label in (*self.fields.values(), self.providers):
                label.setText("")
            return
        f = self.fields
        f["name"].setText(view.name)
        f["certno"].setText(view.masked_certno)
        f["insutype"].setText(labels.INSUTYPE.get(view.insutype, view.insutype))
        f["psn_type"].setText(
            labels.PSN_TYPE.get(view.psn_type, view.psn_type)
            + (f"（{view.retired_on:%Y-%m-%d}退休）" if view.retired_on else "")
        )
        f["status"].setText(
            labels.STATUS.get(view.status, view.status) + ("，住院中" if view.hospitalized else "")
        )
        f["balance"].setText(fmt(view.balance) if view.account_open else "无个人账户")
        employee = view.insutype == "310"  # outpatient pooling is for employees only (WH-2)
        f["deductible"].setText(
            f"{fmt(view.deductible_paid)} / {deductible}" if employee else "不适用（非职工医保）"
        )
        f["pooled"].setText(f"{fmt(view.outpatient_pool_paid)} / {cap}" if employee else "不适用")
        f["place"].setText(
            (view.insuplc_admdvs or "本地") + ("（异地：医保中心结算）" if view.out_of_area else "")
        )
        f["place"].setStyleSheet("color: #b00020; font-weight: bold;" if view.out_of_area else "")
        f["source"].setText(view.source_note(now or dt.datetime.now()))
        f["source"].setStyleSheet("" if view.online or view.learned_at is None else "color: #8a5a00;")
        self.providers.setText(
            "\n".join(
                f"{p.name}（{labels.RELATION[p.relation]}）余额 {fmt(p.balance)}" for p in view.providers
            )
            or "无"
        )
