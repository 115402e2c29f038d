"""Deadlines of the liaison flows ride the shared obligation machinery: reminders and overdue marks."""

from __future__ import annotations

from arq.connections import ArqRedis
from tortoise.transactions import in_transaction

from models.enums import Role
from models.event import Event, EventRecipient
from models.inquiry import InquiryTopic, send_inquiry
from models.public import SubmissionInput, SubmissionKind, submit
from tests import factories as f
from tests.workers.conftest import World
from workers.jobs import sweep


async def audience(kind: str) -> list[tuple[str, list[int]]]:
    out = []
    for event in await Event.filter(kind=kind).order_by("id"):
        rows = await EventRecipient.filter(event_id=event.id).order_by("department_id")
        out.append((str(event.payload["obligationKind"]), [r.department_id for r in rows]))
    return out


async def test_an_unanswered_inquiry_and_an_unanswered_report_are_reminded_then_overdue(
    world: World, pool: ArqRedis
) -> None:
    sender = await f.user(world.approval, Role.OFFICER)
    async with in_transaction():
        # 2026-09-30 + 3 working days = 2026-10-10 (the make-up Saturday after National Day).
        await send_inquiry(
            sender,
            receiver_ids=[world.supervision.id],
            topic=InquiryTopic.POLICY,
            subject="政策口径",
            body="请答复。",
            reply_working_days=3,
            now=f.at(2026, 9, 30),
        )
        # Ten working days from 2026-09-30: 2026-10-20.
        await submit(
            SubmissionInput(
                kind=SubmissionKind.REPORT, subject="举报", content="内容", anonymous=True, about_item_id=world.item.id
            ),
            now=f.at(2026, 9, 30),
        )
    await sweep({"redis": pool, "clock": lambda: f.at(2026, 10, 9, 9, 30)})
    assert await audience("OBLIGATION_REMINDER") == [("INQUIRY_REPLY", [world.supervision.id])]
    await sweep({"redis": pool, "clock": lambda: f.at(2026, 10, 11, 0, 1)})
    # Overdue: the receiver and the sender that watches it.
    assert await audience("OBLIGATION_OVERDUE") == [
        ("INQUIRY_REPLY", sorted([world.supervision.id, world.approval.id]))
    ]
    await sweep({"redis": pool, "clock": lambda: f.at(2026, 10, 21, 0, 1)})
    assert [k for k, _ in await audience("OBLIGATION_OVERDUE")] == ["INQUIRY_REPLY", "PUBLIC_REPLY"]
    # A reminder whose moment passed with the deadline is not sent late.
    assert [k for k, _ in await audience("OBLIGATION_REMINDER")] == ["INQUIRY_REPLY"]
