"""The insurance centre online, as the counter needs it: every call the window and the services
make of it, declared here once and implemented by sync's `CentreLink` (services never import sync).

Each service names the part it needs (`inpatient.CentrePort`, `elsewhere.CentreSettles`,
`lookup.PersonSource`); the counter window holds the whole `CounterCentre`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .elsewhere import CentreSettles
from .inpatient import CentrePort
from .lookup import PersonSource

if TYPE_CHECKING:
    from .actor import Actor
    from .settlement import Preview


class OperatorSignIn(Protocol):
    """9001 when a shift opens, 9002 when it closes."""

    def sign_in(self, institution_code: str, operator: str, operator_name: str) -> str: ...
    def sign_out(self, institution_code: str, operator: str, operator_name: str) -> bool: ...


class PresettleCheck(Protocol):
    """F5 with the centre (a counter setting): where the centre's pre-settlement (2206) of the same
    visit differs from the counter's preview, {} when it agrees; nothing is settled anywhere."""

    def outpatient_check(
        self, ctx: Actor, preview: Preview, cert_type: str, cert_no: str
    ) -> dict[str, list[str]]: ...


class CounterCentre(CentrePort, CentreSettles, PersonSource, OperatorSignIn, PresettleCheck, Protocol):
    """Everything the counter asks of the centre online."""
