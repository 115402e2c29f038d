"""Who may read an evidence file: whoever may see the record it is attached to."""

from __future__ import annotations

from models.account import User
from models.backflow import SupervisionAction, can_see_action
from models.files import EvidenceFile
from models.notice import Notice, can_see_notice


async def can_see_file(viewer: User, row: EvidenceFile) -> bool:
    """Attached: the record's own scoping. Not yet attached: only the uploading department."""
    if viewer.is_admin:
        return True
    if row.owner_type is None or row.owner_id is None:
        return viewer.department_id == row.department_id
    if row.owner_type == "SupervisionAction":
        action = await SupervisionAction.get_or_none(id=row.owner_id)
        return action is not None and can_see_action(viewer, action)
    if row.owner_type == "Notice":
        notice = await Notice.get_or_none(id=row.owner_id)
        return notice is not None and can_see_notice(viewer, notice)
    return False
