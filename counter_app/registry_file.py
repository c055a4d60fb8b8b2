"""The insured registry as a file: institutions, persons (with their cards and account), family
bindings, year totals and the catalogue, in one JSON document.

It is how a reference centre gets its population (`counter-app centre --registry FILE`) and the
shape an agency's import takes. Money is text with two decimals, dates ISO, as everywhere in this
project's JSON. `load` checks every record and names the first thing wrong; nothing is half-read.

    {"format": "counter-app-registry", "version": 1,
     "institutions": [{"code", "name", "level", "kind", "designated", "admdvs", "policy"}],
     "persons": [{"psn_no", "certno", "name", "gend", "brdy", "insutype", "psn_type", "status",
                  "retired_on", "hospitalized", "died_on", "insuplc_admdvs", "emp_name",
                  "cards": [{"card_no", "card_sn"}], "account": {"balance", "open"} | null}],
     "bindings": [{"provider", "beneficiary", "relation", "policy"}],
     "year_totals": [{"psn_no", "year", "deductible", "pooled"}],
     "catalogue": [{"code", "name", "kind", "cls", "prepay_ratio", "account_payable", "price"}]}
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

FORMAT, VERSION = "counter-app-registry", 1
SECTIONS = ("institutions", "persons", "bindings", "year_totals", "catalogue")
PERSON_FIELDS = ("psn_no", "certno", "name", "insutype", "psn_type", "status")
MAX_BYTES = 2 * 1024 * 1024 * 1024


class RegistryError(ValueError):
    """A registry file that cannot be loaded; the text names the record and field."""


def load(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The file's sections, checked."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise RegistryError(f"{path}: 文件过大")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{path}: 文件不存在") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RegistryError(f"{path}: 不是 JSON 文件（{str(exc)[:80]}）") from None
    return check(data, str(path))


def check(data: Any, where: str = "registry") -> dict[str, list[dict[str, Any]]]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RegistryError(f"{where}: 不是参保登记文件（format 应为 {FORMAT}）")
    if data.get("version") != VERSION:
        raise RegistryError(f"{where}: 版本 {data.get('version')!r} 不支持（支持 {VERSION}）")
    out: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        records = data.get(section, [])
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RegistryError(f"{where}: {section} 应为对象数组")
        out[section] = records
    seen: set[str] = set()
    for n, person in enumerate(out["persons"]):
        at = f"{where}: persons[{n}]"
        for key in PERSON_FIELDS:
            if not isinstance(person.get(key), str) or not person[key]:
                raise RegistryError(f"{at}.{key} 缺失或不是字符串")
        if person["psn_no"] in seen:
            raise RegistryError(f"{at}.psn_no {person['psn_no']} 重复")
        seen.add(person["psn_no"])
        account = person.get("account")
        if account is not None:
            if not isinstance(account, dict):
                raise RegistryError(f"{at}.account 应为对象或 null")
            _money(account.get("balance"), f"{at}.account.balance")
        cards = person.get("cards", [])
        if not isinstance(cards, list) or not all(
            isinstance(c, dict) and isinstance(c.get("card_no"), str) for c in cards
        ):
            raise RegistryError(f"{at}.cards 应为 [{{card_no, card_sn}}]")
    for n, binding in enumerate(out["bindings"]):
        for key in ("provider", "beneficiary", "relation"):
            if binding.get(key) in (None, ""):
                raise RegistryError(f"{where}: bindings[{n}].{key} 缺失")
        for key in ("provider", "beneficiary"):
            if binding[key] not in seen:
                raise RegistryError(f"{where}: bindings[{n}].{key} {binding[key]} 不在 persons 中")
    for n, total in enumerate(out["year_totals"]):
        _money(total.get("deductible"), f"{where}: year_totals[{n}].deductible")
        _money(total.get("pooled"), f"{where}: year_totals[{n}].pooled")
    for n, item in enumerate(out["catalogue"]):
        _money(item.get("price"), f"{where}: catalogue[{n}].price")
    return out


def _money(value: Any, at: str) -> Decimal:
    if not isinstance(value, str):
        raise RegistryError(f'{at} 应为金额文本（如 "12.30"）')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RegistryError(f"{at} 不是金额：{value[:20]!r}") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise RegistryError(f"{at} 应为两位小数的非负金额：{value[:20]!r}")
    return amount


def dump(data: dict[str, list[dict[str, Any]]], path: Path) -> None:
    path.write_text(
        json.dumps({"format": FORMAT, "version": VERSION, **data}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
