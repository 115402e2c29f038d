"""A decision's complete history, in time order, from the rows that record each step.

One query per source (the decision, its pushes, its supervision actions, its notices, its status
changes), never one per entry; the viewer sees the steps of the records it may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from models.account import User
from models.backflow import SupervisionAction, can_see_action
from models.decision import Decision, DecisionPush
from models.notice import DecisionStatusChange, Notice, can_see_notice
from models.visibility import can_see_push


class TimelineKind(StrEnum):
    ISSUED = "ISSUED"
    PUSHED = "PUSHED"
    CLAIMED = "CLAIMED"
    RETURNED = "RETURNED"
    ACTION_RECORDED = "ACTION_RECORDED"
    ACTION_PUSHED = "ACTION_PUSHED"
    ACTION_CLAIMED = "ACTION_CLAIMED"
    ACTION_RETURNED = "ACTION_RETURNED"
    NOTICE_SENT = "NOTICE_SENT"
    NOTICE_REVIEW_STARTED = "NOTICE_REVIEW_STARTED"
    NOTICE_MEETING_SCHEDULED = "NOTICE_MEETING_SCHEDULED"
    NOTICE_DECIDED = "NOTICE_DECIDED"
    STATUS_CHANGED = "STATUS_CHANGED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Entry:
    """One step: when, what, who (None: the platform itself), for which department, about which record."""

    at: datetime
    kind: TimelineKind
    actor_id: int | None
    department_id: int
    subject_type: str
    subject_id: int
    note: str | None = None
    document: str | None = None  # the document of the step: decision, penalty, offline letter, notice, disposition


def _push_entries(pushes: list[DecisionPush]) -> list[Entry]:
    out: list[Entry] = []
    for p in pushes:
        out.append(Entry(p.pushed_at, TimelineKind.PUSHED, None, p.department_id, "DecisionPush", p.id))
        if p.claimed_at:
            out.append(
                Entry(p.claimed_at, TimelineKind.CLAIMED, p.claimed_by_id, p.department_id, "DecisionPush", p.id)
            )
        if p.returned_at:
            out.append(
                Entry(
                    p.returned_at,
                    TimelineKind.RETURNED,
                    p.returned_by_id,
                    p.department_id,
                    "DecisionPush",
                    p.id,
                    p.return_reason,
                )
            )
    return out


def _previous_push_entries(a: SupervisionAction) -> list[Entry]:
    """Pushes of the action that were returned and replaced by a later one."""
    out: list[Entry] = []
    for old in a.previous_pushes:
        note = "OFFLINE" if old.get("offlineChannel") else "PLATFORM"
        document = old.get("offlineReference") or a.penalty_document_number
        pushed = datetime.fromisoformat(old["pushedAt"])
        returned = datetime.fromisoformat(old["returnedAt"])
        target = int(old["targetDepartmentId"])
        kind = "SupervisionAction"
        out.append(
            Entry(
                pushed, TimelineKind.ACTION_PUSHED, old.get("pushedById"), a.department_id, kind, a.id, note, document
            )
        )
        out.append(
            Entry(
                returned,
                TimelineKind.ACTION_RETURNED,
                old.get("returnedById"),
                target,
                kind,
                a.id,
                old.get("returnReason"),
            )
        )
    return out


def _action_entries(actions: list[SupervisionAction]) -> list[Entry]:
    out: list[Entry] = []
    for a in actions:
        out.append(
            Entry(
                a.created_at,
                TimelineKind.ACTION_RECORDED,
                a.created_by_id,
                a.department_id,
                "SupervisionAction",
                a.id,
                a.kind.value,
                a.penalty_document_number,
            )
        )
        out.extend(_previous_push_entries(a))
        if a.pushed_at:
            note = "OFFLINE" if a.offline_channel else "PLATFORM"
            out.append(
                Entry(
                    a.pushed_at,
                    TimelineKind.ACTION_PUSHED,
                    a.pushed_by_id,
                    a.department_id,
                    "SupervisionAction",
                    a.id,
                    note,
                    a.offline_reference if a.offline_channel else a.penalty_document_number,
                )
            )
        if a.returned_at:
            out.append(
                Entry(
                    a.returned_at,
                    TimelineKind.ACTION_RETURNED,
                    a.returned_by_id,
                    a.target_department_id,
                    "SupervisionAction",
                    a.id,
                    a.return_reason,
                )
            )
        if a.claimed_at:
            out.append(
                Entry(
                    a.claimed_at,
                    TimelineKind.ACTION_CLAIMED,
                    a.claimed_by_id,
                    a.target_department_id,
                    "SupervisionAction",
                    a.id,
                )
            )
    return out


def _notice_entries(notices: list[Notice]) -> list[Entry]:
    out: list[Entry] = []
    for n in notices:
        out.append(
            Entry(
                n.sent_at,
                TimelineKind.NOTICE_SENT,
                n.sent_by_id,
                n.sender_department_id,
                "Notice",
                n.id,
                n.kind.value,
                n.document_number,
            )
        )
        to = n.recipient_department_id
        if n.review_started_at:
            out.append(
                Entry(
                    n.review_started_at, TimelineKind.NOTICE_REVIEW_STARTED, n.review_started_by_id, to, "Notice", n.id
                )
            )
        if n.meeting_scheduled_at:
            out.append(
                Entry(
                    n.meeting_scheduled_at,
                    TimelineKind.NOTICE_MEETING_SCHEDULED,
                    n.meeting_scheduled_by_id,
                    to,
                    "Notice",
                    n.id,
                )
            )
        if n.decided_at:
            outcome = n.outcome.value if n.outcome else None
            out.append(Entry(n.decided_at, TimelineKind.NOTICE_DECIDED, n.decided_by_id, to, "Notice", n.id, outcome))
    return out


def _change_entries(changes: list[DecisionStatusChange]) -> list[Entry]:
    return [
        Entry(
            c.at,
            TimelineKind.EXPIRED if c.actor_id is None else TimelineKind.STATUS_CHANGED,
            c.actor_id,
            c.department_id,
            "ApprovalDecision",
            c.decision_id,
            c.to_status.value,
            c.document_number,
        )
        for c in changes
    ]


async def decision_timeline(viewer: User, decision: Decision) -> list[Entry]:
    """Every step of the decision's life the viewer may see, oldest first (ties in a stable order)."""
    all_pushes = await DecisionPush.filter(decision_id=decision.id)
    # Pushes are written in the issuing transaction, at the moment the flow's clock gave it.
    issued_at = min([decision.created_at, *(p.pushed_at for p in all_pushes if p.rerouted_from_id is None)])
    issued = Entry(
        issued_at,
        TimelineKind.ISSUED,
        decision.created_by_id,
        decision.issuer_id,
        "ApprovalDecision",
        decision.id,
        document=decision.document_number,
    )
    pushes = [p for p in all_pushes if can_see_push(viewer, p, decision.issuer_id)]
    actions = [a for a in await SupervisionAction.filter(decisions__id=decision.id) if can_see_action(viewer, a)]
    notices = [n for n in await Notice.filter(decision_id=decision.id) if can_see_notice(viewer, n)]
    changes = await DecisionStatusChange.filter(decision_id=decision.id)
    entries = [
        issued,
        *_push_entries(pushes),
        *_action_entries(actions),
        *_notice_entries(notices),
        *_change_entries(changes),
    ]
    order = list(TimelineKind)
    return sorted(entries, key=lambda e: (e.at, order.index(e.kind), e.subject_id))
