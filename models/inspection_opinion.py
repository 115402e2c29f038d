"""Art. 22: every participant's opinion on an inspection, its conclusion, and its link to the decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from models.account import User, check_length
from models.decision import Decision
from models.enums import InspectionOpinionKind, InspectionStatus, InvitationStatus
from models.errors import Forbidden, InvalidInput, NotFound
from models.event import EventKind, record_event
from models.files import attach_evidence
from models.inspection import (
    INSPECTION_OPINION,
    INSPECTION_REPLY,
    ORGANISER_ROLES,
    InspectionInvitation,
    InspectionOpinion,
    InspectionTask,
    drawn_experts,
    invited_departments,
    visible_task,
)
from models.obligation import close_obligations


async def record_opinion(
    actor: User,
    task_id: int,
    *,
    opinion: InspectionOpinionKind,
    text: str,
    expert_id: int | None,
    now: datetime,
    evidence_file_ids: Sequence[int] = (),
) -> InspectionOpinion:
    """Art. 22: an accepted department records its own opinion; the organiser records each drawn expert's."""
    task = await visible_task(actor, task_id)
    if not actor.has_role(*ORGANISER_ROLES):
        raise Forbidden("只有经办人或联络员可以记录意见", field="id")
    if task.status is InspectionStatus.CLOSED:
        raise InvalidInput("踏勘任务已结束", field="id", code="INSPECTION_CLOSED")
    text = check_length(text, "text", 5000)
    experts = await drawn_experts(task.id)
    if expert_id is not None:
        if actor.department_id != task.organiser_id:
            raise Forbidden("专家意见由组织部门记录", field="expertId")
        if expert_id not in experts:
            raise NotFound("该专家未被抽中参加本次踏勘", field="expertId", code="EXPERT_NOT_ON_TASK")
        department_id = None
    else:
        if not await InspectionInvitation.filter(
            task_id=task.id, department_id=actor.department_id, status=InvitationStatus.ACCEPTED
        ).exists():
            raise Forbidden("只有已接受邀请的部门可以提出意见", field="id")
        department_id = actor.department_id
    if await InspectionOpinion.filter(task_id=task.id, department_id=department_id, expert_id=expert_id).exists():
        raise InvalidInput("意见已记录", field="expertId" if expert_id else "id", code="OPINION_ALREADY_RECORDED")
    row = await InspectionOpinion.create(
        task_id=task.id,
        department_id=department_id,
        expert_id=expert_id,
        opinion=opinion,
        text=text,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    await attach_evidence(actor, list(evidence_file_ids), "InspectionOpinion", row.id, field="evidenceFileIds")
    await _settle_opinion_obligation(task, actor.department_id, experts, now)
    await record_event(
        EventKind.INSPECTION_OPINION_RECORDED,
        subject_type="InspectionTask",
        subject_id=task.id,
        departments=[task.organiser_id, actor.department_id],
        payload={"taskId": task.id, "opinionId": row.id, "opinion": opinion.value, "expertId": expert_id},
    )
    return row


async def _settle_opinion_obligation(
    task: InspectionTask, department_id: int, experts: list[int], now: datetime
) -> None:
    """A department's opinion is done with its own; the organiser's once every drawn expert has one."""
    if department_id == task.organiser_id:
        given = await InspectionOpinion.filter(task_id=task.id, expert_id__in=experts).count() if experts else 0
        if given < len(experts):
            return
    await close_obligations(
        "InspectionTask", task.id, now=now, kind=INSPECTION_OPINION.kind, department_id=department_id
    )


async def close_inspection(
    actor: User, task_id: int, *, conclusion: str, now: datetime, evidence_file_ids: Sequence[int] = ()
) -> InspectionTask:
    """Art. 22: the organiser closes the task with its conclusion (and its files); open deadlines fall away."""
    task = await visible_task(actor, task_id)
    if task.organiser_id != actor.department_id or not actor.has_role(*ORGANISER_ROLES):
        raise Forbidden("只有组织部门可以办结踏勘任务", field="id")
    if task.status is InspectionStatus.CLOSED:
        raise InvalidInput("踏勘任务已结束", field="id", code="INSPECTION_CLOSED")
    task.conclusion = check_length(conclusion, "conclusion", 5000)
    task.status, task.closed_at = InspectionStatus.CLOSED, now
    await task.save(update_fields=["conclusion", "status", "closed_at"])
    await attach_evidence(actor, list(evidence_file_ids), "InspectionTask", task.id, field="evidenceFileIds")
    await close_obligations("InspectionTask", task.id, now=now, cancel=True)
    for invitation in await InspectionInvitation.filter(task_id=task.id):
        await close_obligations("InspectionInvitation", invitation.id, now=now, kind=INSPECTION_REPLY.kind, cancel=True)
    await record_event(
        EventKind.INSPECTION_CLOSED,
        subject_type="InspectionTask",
        subject_id=task.id,
        departments=[task.organiser_id, *await invited_departments(task.id)],
        payload={"taskId": task.id},
    )
    return task


async def link_inspection(actor: User, task_id: int, decision_id: int, *, now: datetime) -> InspectionTask:
    """An application's inspection joins the decision that followed it: same item, same counterparty."""
    task = await visible_task(actor, task_id)
    if task.organiser_id != actor.department_id or not actor.has_role(*ORGANISER_ROLES):
        raise Forbidden("只有组织部门可以关联审批决定", field="id")
    decision = await Decision.get_or_none(id=decision_id)
    if decision is None or decision.issuer_id != actor.department_id:
        raise NotFound("审批决定不存在", field="decisionId", code="DECISION_NOT_FOUND")
    if task.decision_id is not None and task.decision_id != decision.id:
        raise InvalidInput("该踏勘任务已关联其他审批决定", field="id", code="ALREADY_LINKED")
    same: dict[str, Any] = {
        "item_id": decision.item_id,
        "id_number": decision.id_number,
        "credit_code": decision.credit_code,
    }
    if any(getattr(task, k) != v for k, v in same.items()):
        raise InvalidInput("审批决定的事项或相对人与踏勘任务不一致", field="decisionId", code="SUBJECT_MISMATCH")
    if task.decision_id is None:
        task.decision_id = decision.id
        await task.save(update_fields=["decision_id"])
        await record_event(
            EventKind.INSPECTION_LINKED,
            subject_type="InspectionTask",
            subject_id=task.id,
            departments=[task.organiser_id, *await invited_departments(task.id)],
            payload={"taskId": task.id, "decisionId": decision.id, "at": now.isoformat()},
        )
    return task
