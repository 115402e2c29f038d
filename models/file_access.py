"""Who may read an evidence file: whoever may see the record it is attached to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from models.account import User
from models.backflow import SupervisionAction, can_see_action
from models.commitment import VerificationTask, can_see_verification
from models.files import EvidenceFile
from models.inquiry import Inquiry, InquiryMessage, can_see_inquiry
from models.inspection import InspectionOpinion, InspectionTask, can_see_task, invited_departments
from models.meeting import Meeting, can_see_meeting
from models.notice import Notice, can_see_notice


async def _action(viewer: User, pk: int) -> bool:
    action = await SupervisionAction.get_or_none(id=pk)
    return action is not None and can_see_action(viewer, action)


async def _notice(viewer: User, pk: int) -> bool:
    notice = await Notice.get_or_none(id=pk)
    return notice is not None and can_see_notice(viewer, notice)


async def _inspection(viewer: User, pk: int) -> bool:
    task = await InspectionTask.get_or_none(id=pk)
    return task is not None and can_see_task(viewer, task, await invited_departments(task.id))


async def _opinion(viewer: User, pk: int) -> bool:
    """An opinion is shown with its task, to everyone who may see the task."""
    opinion = await InspectionOpinion.get_or_none(id=pk)
    return opinion is not None and await _inspection(viewer, opinion.task_id)


async def _verification(viewer: User, pk: int) -> bool:
    task = await VerificationTask.get_or_none(id=pk)
    return task is not None and can_see_verification(viewer, task)


async def _inquiry_message(viewer: User, pk: int) -> bool:
    """A letter is shown with its thread, to the sender and every receiver."""
    message = await InquiryMessage.get_or_none(id=pk)
    inquiry = await Inquiry.get_or_none(id=message.inquiry_id) if message else None
    return inquiry is not None and await can_see_inquiry(viewer, inquiry)


async def _meeting(viewer: User, pk: int) -> bool:
    meeting = await Meeting.get_or_none(id=pk)
    return meeting is not None and await can_see_meeting(viewer, meeting)


OWNERS: dict[str, Callable[[User, int], Awaitable[bool]]] = {
    "SupervisionAction": _action,
    "Notice": _notice,
    "InspectionTask": _inspection,
    "InspectionOpinion": _opinion,
    "VerificationTask": _verification,
    "InquiryMessage": _inquiry_message,
    "Meeting": _meeting,
}


async def can_see_file(viewer: User, row: EvidenceFile) -> bool:
    """Attached: the record's own scoping. Not yet attached: only the uploading department."""
    if viewer.is_admin:
        return True
    if row.owner_type is None or row.owner_id is None:
        return viewer.department_id == row.department_id
    check = OWNERS.get(row.owner_type)
    return check is not None and await check(viewer, int(row.owner_id))
