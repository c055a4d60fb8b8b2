"""Small helpers every counter screen uses: labels, typed money, the unsent summary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ...services.errors import ServiceError
from ..qt import (
    QLabel,
    Qt,
)


def unsent_summary(waiting: list, now: dt.datetime) -> str:
    """What is not yet with the centre, for shift and day close: parked first, then the oldest."""
    if not waiting:
        return ""
    parked = [e for e in waiting if e.status == "parked"]
    pending = [e for e in waiting if e.status != "parked"]
    parts = [f"；未上传医保中心 {len(waiting)} 笔"]
    if parked:
        parts.append(
            f"，其中挂起 {len(parked)} 笔（请主管在上传队列处理）："
            + "；".join(f"{e.setl_no} {e.name}（{(e.last_error or '')[:30]}）" for e in parked[:5])
        )
    if pending:
        oldest = pending[0]
        minutes = int(oldest.age(now).total_seconds() // 60)
        parts.append(f"；最早待传 {oldest.setl_no}，已等 {minutes} 分钟")
    return "".join(parts)


def label(text: str = "", *, name: str | None = None, big: bool = False) -> QLabel:
    label = QLabel(text)
    if name:
        label.setObjectName(name)
    if big:
        font = label.font()
        font.setPointSize(font.pointSize() * 2 + 6)
        font.setBold(True)
        label.setFont(font)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def money_text(text: str, field: str) -> Decimal:
    """Money typed by the cashier, checked by the one money parser (two decimals, not negative);
    what is wrong is said in Chinese, naming the field."""
    from ...engine.money import MoneyError, parse_money

    typed = text.strip()
    try:
        return parse_money(typed)
    except MoneyError:
        if not typed:
            why = "请输入金额"
        elif typed.startswith("-"):
            why = f"不能为负数（{typed}）"
        elif "." in typed and typed.split(".", 1)[1].isdigit() and len(typed.split(".", 1)[1]) > 2:
            why = f"最多两位小数（{typed}）"
        elif typed.replace(".", "", 1).isascii() and typed.replace(".", "", 1).isdigit():
            why = f"金额过大（{typed}）"
        else:
            why = f"不是金额，请输入如 12.50 的数字（{typed[:20]}）"
        raise ServiceError(f"{field}：{why}") from None
