"""Refusals a cashier sees: Chinese text for the screen, the rule id when a rule refused."""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal with a message fit for the counter screen; nothing was written."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        super().__init__(f"{message}（{rule}）" if rule else message)
        self.message, self.rule = message, rule


class NotFound(ServiceError):
    pass


class BindingRefused(ServiceError):
    pass


class RefundRefused(ServiceError):
    pass
