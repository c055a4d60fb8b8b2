"""Refusals a cashier sees: Chinese text for the screen, the rule id when a rule refused."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal with a message fit for the counter screen; nothing was written."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(f"{message}（{rule}）" if rule else message)
        self.message, self.rule = message, rule


class NotFound(ServiceError):
    pass


class Unmapped(ServiceError):
    """A line whose item the national catalogue cannot class on the visit date: the visit can be
    sold only as self-pay (自费), which the window offers."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class BindingRefused(ServiceError):
    pass


class RefundRefused(ServiceError):
    pass


class InsuredElsewhere(ServiceError):
    """The patient is insured in another region: the local packs must not price them (decision 12)."""


class CentreUnavailable(ServiceError):
    """The centre did not answer: nothing was done that needs it (a stay and its deposit stay open,
    a visit insured elsewhere is not settled); the text says what to do."""


class CentreRefused(ServiceError):
    """The centre answered no, with its reason."""


MAX_REASON = 200


def require_reason(reason: object, label: str = "原因", error: type[ServiceError] = ServiceError) -> None:
    """A reason typed for the audit log (a refund, a resent or voided message): present, one line,
    not too long. Refuses with `error`, naming the reason by `label`."""
    if not isinstance(reason, str) or not reason.strip():
        raise error(f"请填写{label}")
    if len(reason) > MAX_REASON or any(ord(c) < 32 for c in reason):
        raise error(f"{label}过长或含有控制字符")


# What the database driver says when the disk or the database itself fails, and what the cashier
# reads instead: the transaction was rolled back whole, so nothing is half-written (issue 26).
_DATABASE_TROUBLE = (
    (
        ("database or disk is full", "no space left on device", "could not extend file", "disk full"),
        "数据库所在磁盘已满，本次操作没有保存（未扣款、未记账）。请通知信息科清理磁盘或扩容后重试。",
    ),
    (
        ("disk i/o error", "database disk image is malformed", "file is not a database"),
        "数据库文件读写出错，本次操作没有保存。请停止收费，通知信息科检查磁盘并从备份恢复。",
    ),
    (
        ("unable to open database file", "readonly database", "no such table"),
        "找不到或无法写入数据库文件，本次操作没有保存。请通知信息科检查数据库位置和权限。",
    ),
    (
        (
            "connection refused",
            "could not connect",
            "could not translate host",
            "server closed the connection",
            "terminating connection",
            "connection timed out",
            "the database system is",
        ),
        "连接不上数据库服务器，本次操作没有保存。请检查网络或通知信息科，恢复后重试。",
    ),
    (
        ("database is locked",),
        "数据库正忙（其他窗口长时间占用），本次操作没有保存。请稍后重试；反复出现请通知信息科。",
    ),
)


def database_trouble(exc: BaseException) -> str | None:
    """The cashier's words for a failing disk or database (SQLAlchemy's OperationalError and kin,
    from SQLite or PostgreSQL), or None when `exc` is something else."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    said = f"{exc.orig}".lower()
    for needles, words in _DATABASE_TROUBLE:
        if any(n in said for n in needles):
            return words
    return None
