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
