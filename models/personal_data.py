"""Personal data of counterparties: masked everywhere, shown in full only through an audited reveal."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.queryset import QuerySet

from models.account import User
from models.audit import record_audit
from models.decision import Decision, with_id_number
from models.enums import Role
from models.errors import Forbidden, InvalidInput, NotFound
from models.identifiers import normalize_citizen_id
from models.visibility import can_see_decision, visible_decisions

REVEAL_ROLES = (Role.ADMIN, Role.LIAISON, Role.OFFICER)


@dataclass(frozen=True)
class Revealed:
    id_number: str | None
    phone: str | None


async def reveal_counterparty(actor: User, decision_id: int, *, address: str) -> Revealed:
    """PIPL: the full ID number and phone, for a role allowed to, on a decision it may see; audited."""
    if not actor.has_role(*REVEAL_ROLES):
        raise Forbidden("无权查看完整个人信息", field="decisionId")
    row = await Decision.get_or_none(id=decision_id)
    if row is None or not await can_see_decision(actor, row):
        raise NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND")
    if not (row.id_number or row.phone):
        raise InvalidInput("该相对人没有可查看的个人信息", field="decisionId", code="NOTHING_TO_REVEAL")
    await record_audit(
        "reveal_counterparty",
        actor_id=actor.id,
        department_id=actor.department_id,
        object_type="Decision",
        object_id=row.id,
        address=address,
    )
    return Revealed(id_number=row.id_number, phone=row.phone)


def find_by_id_number(viewer: User, id_number: str) -> QuerySet[Decision]:
    """Decisions the viewer may see whose counterparty has this citizen ID number.

    Matches the keyed lookup hash (under every key of the ring, so rows not yet rotated are
    found too): no row is decrypted and the number never appears in the query.
    """
    return visible_decisions(viewer).filter(with_id_number(normalize_citizen_id(id_number)))
