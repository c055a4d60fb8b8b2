"""Per-counter settings in a TOML file that the hospital's IT staff and a supervisor can change.

The file lives in the platform's config folder (`platformdirs`: ~/.config/counter_app/counter.toml
on Linux, %LOCALAPPDATA%\\counter_app\\counter.toml on Windows), or where $COUNTER_APP_CONFIG says.
`counter-app config show|set KEY VALUE` and the supervisor's 设置 dialog edit the same file; a
command-line flag overrides it for one run. Every value is checked when it is set (`parse`), so a
typo is refused with its reason instead of breaking the next start; a file edited by hand that
does not parse is named with its line, never silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w


class ConfigError(ValueError):
    """A setting that cannot be used: the message names the key or the file and what is wrong."""


def config_path() -> Path:
    override = os.environ.get("COUNTER_APP_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("counter_app", appauthor=False)) / "counter.toml"


def _text(value: str) -> str:
    value = value.strip()
    if not value.isprintable():
        raise ConfigError("control characters are not allowed")
    return value


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = _text(value)
        if value and not value.startswith(schemes):
            raise ConfigError(f"must start with {' or '.join(schemes)}")
        return value

    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ConfigError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ConfigError(f"must be from {low} to {high}")
        return number

    return parse


def _flag(value: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError("must be true or false")


def _escpos(value: str) -> str:
    """Where a thermal printer speaks ESC/POS: usb:VID:PID, tcp:HOST[:PORT], serial:DEVICE, or empty."""
    value = _text(value)
    if not value:
        return value
    kind, _, rest = value.partition(":")
    if kind == "usb":
        parts = rest.split(":")
        try:
            if len(parts) != 2 or not all(0 <= int(p, 16) <= 0xFFFF for p in parts):
                raise ValueError
        except ValueError:
            raise ConfigError("usb printer must be usb:VID:PID in hex, e.g. usb:04b8:0202") from None
    elif kind == "tcp":
        host, _, port = rest.partition(":")
        if not host or (port and not port.isdigit()):
            raise ConfigError("network printer must be tcp:HOST or tcp:HOST:PORT, e.g. tcp:10.0.0.9:9100")
    elif kind == "serial":
        if not rest:
            raise ConfigError("serial printer must be serial:DEVICE, e.g. serial:/dev/ttyS0 or serial:COM3")
    else:
        raise ConfigError("must be usb:VID:PID, tcp:HOST[:PORT] or serial:DEVICE")
    return value


@dataclass(frozen=True)
class Settings:
    """One counter's settings; the defaults are a training counter on the demo data."""

    institution: str = ""  # fixmedins_code; empty: the demo hospital
    counter: str = ""  # empty: named by the role signing in (门诊1, 住院1, 药房1; services/staff.py)
    database: str = ""  # SQLAlchemy URL; empty: the SQLite file in the user data folder
    centre: str = ""  # insurance centre URL; empty: offline (sync by hand)
    paasid: str = ""
    passtoken: str = ""
    printer: str = ""  # system printer for PDF slips; empty: PDF files only
    escpos: str = ""  # thermal printer spoken to directly (ESC/POS); empty: none
    slip_size: str = "80mm"
    backup_dir: str = ""  # empty: no automatic backups (SQLite)
    backup_keep: int = 14
    backup_every_minutes: int = 60
    customer_display: bool = False


PARSERS: dict[str, Callable[[str], Any]] = {
    "institution": _text,
    "counter": _text,
    "database": _url(("sqlite:", "postgresql")),
    "centre": _url(("http://", "https://")),
    "paasid": _text,
    "passtoken": _text,
    "printer": _text,
    "escpos": _escpos,
    "slip_size": _choice("80mm", "a5"),
    "backup_dir": _text,
    "backup_keep": _count(1, 1000),
    "backup_every_minutes": _count(0, 1440),
    "customer_display": _flag,
}
DESCRIPTIONS = {
    "institution": "定点机构编码",
    "counter": "窗口名称（空：按岗位，门诊1、住院1、药房1）",
    "database": "数据库地址",
    "centre": "医保中心地址",
    "paasid": "接入网关账号",
    "passtoken": "接入网关密钥",
    "printer": "系统打印机",
    "escpos": "热敏打印机（USB、网络或串口）",
    "slip_size": "结算单尺寸（80毫米热敏纸 / A5）",
    "backup_dir": "备份文件夹",
    "backup_keep": "保留备份份数",
    "backup_every_minutes": "定时备份间隔（分钟，0 为不定时）",
    "customer_display": "客显屏",
}
SECRET = frozenset({"passtoken"})
assert set(PARSERS) == {f.name for f in fields(Settings)} == set(DESCRIPTIONS)


def load(path: Path | None = None) -> Settings:
    """The settings in the file (defaults for what it leaves out); no file: the defaults."""
    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(PARSERS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {', '.join(unknown)} (known: {', '.join(PARSERS)})")
    values: dict[str, Any] = {}
    for key, value in data.items():
        try:
            values[key] = PARSERS[key](value if isinstance(value, (bool, int)) else str(value))  # type: ignore[arg-type]  # bool/int settings take them as parsed
        except ConfigError as exc:
            raise ConfigError(f"{path}: {key}: {exc}") from None
    return Settings(**values)


def parse(key: str, value: str) -> Any:
    """A value as `set` would store it; ConfigError names what is wrong."""
    if key not in PARSERS:
        raise ConfigError(f"unknown setting {key!r} (known: {', '.join(PARSERS)})")
    try:
        return PARSERS[key](value)
    except ConfigError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write every setting that differs from the default, atomically (a crash leaves the old file)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    default = Settings()
    data = {
        f.name: getattr(settings, f.name)
        for f in fields(Settings)
        if getattr(settings, f.name) != getattr(default, f.name)
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(tomli_w.dumps(data), encoding="utf-8")
    if os.name == "posix" and "passtoken" in data:
        partial.chmod(0o600)  # the gateway secret is for this user only
    partial.replace(path)
    return path


def set_value(key: str, value: str, path: Path | None = None) -> tuple[Any, Any]:
    """Check and store one setting; returns (old, new)."""
    new = parse(key, value)
    settings = load(path)
    old = getattr(settings, key)
    save(replace(settings, **{key: new}), path)
    return old, new


def shown(key: str, value: Any) -> str:
    """A value as `config show` and logs print it: secrets masked."""
    if key in SECRET and value:
        return "****" + str(value)[-2:]
    return str(value).lower() if isinstance(value, bool) else str(value)
