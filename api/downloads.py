"""File downloads over plain HTTP with the same bearer token: reports, and list exports (Art. 19).

Exports stream row by row (keyset batches), never hold a whole list in memory, mask personal data,
and are audited like every other read of records in bulk.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from api.http import audit_read, error_response, request_user
from models.account import User
from models.calendar import SHANGHAI
from models.enums import PushStatus
from models.identifiers import mask_citizen_id, mask_phone
from models.report import TimelinessReport, may_read_reports
from models.spreadsheet import csv_row, keep_as_text
from models.visibility import inbox, visible_decisions

BATCH = 500
INBOX_HEADER = [
    "推送编号",
    "审批决定文号",
    "行政相对人",
    "证件号码",
    "联系电话",
    "状态",
    "推送时间",
    "认领期限",
    "逾期",
]
DECISION_HEADER = [
    "审批决定文号",
    "事项编号",
    "行政相对人",
    "证件号码",
    "统一社会信用代码",
    "联系电话",
    "状态",
    "批准日期",
]


async def report_file(request: Request) -> Response:
    """GET /reports/{id}/report.xlsx|report.csv — leaders, the approval side and administrators."""
    user = await request_user(request)
    if user is None:
        return error_response(401, "UNAUTHENTICATED", "请先登录")
    if not await may_read_reports(user):
        return error_response(403, "FORBIDDEN", "没有权限下载通报")
    raw = request.path_params["report_id"]
    report = (
        await TimelinessReport.get_or_none(id=int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
    )
    if report is None:
        return error_response(404, "NOT_FOUND", "通报不存在")
    suffix = request.path_params["format"]
    if suffix not in ("xlsx", "csv"):
        return error_response(404, "NOT_FOUND", "没有这种格式")
    path = Path(report.xlsx_path if suffix == "xlsx" else report.csv_path)
    if not await asyncio.to_thread(path.is_file):
        return error_response(410, "FILE_MISSING", "通报文件不在存储中，请联系管理员从备份恢复")
    await audit_read(request, user, "download_report", "TimelinessReport", str(report.id), {"format": suffix})
    media = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if suffix == "xlsx"
        else "text/csv; charset=utf-8"
    )
    name = f"timeliness-{report.period_start.isoformat()}-{report.period_end.isoformat()}.{suffix}"
    return FileResponse(path, media_type=media, filename=name)


def _masked(value: str | None, mask: object) -> str:
    return mask(value) if value else ""  # type: ignore[operator]


def _local(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else ""


def _line(values: Sequence[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(values))
    return out.getvalue()


async def _inbox_rows(user: User, status: PushStatus | None, overdue: bool | None) -> AsyncIterator[list[object]]:
    now = datetime.now(SHANGHAI)
    last = 0
    while True:
        batch = (
            await inbox(user, now=now, status=status, overdue=overdue)
            .filter(id__gt=last)
            .order_by("id")
            .limit(BATCH)
            .select_related("decision")
        )
        for push in batch:
            d = push.decision
            yield [
                push.id,
                d.document_number,
                d.counterparty_name,
                _masked(d.id_number, mask_citizen_id),
                _masked(d.phone, mask_phone),
                push.status.value,
                _local(push.pushed_at),
                push.claim_due_on.isoformat(),
                "是" if push.is_overdue(now) else "否",
            ]
        if len(batch) < BATCH:
            return
        last = batch[-1].id


async def _decision_rows(user: User) -> AsyncIterator[list[object]]:
    last = 0
    while True:
        batch = await visible_decisions(user).filter(id__gt=last).order_by("id").limit(BATCH).select_related("item")
        for d in batch:
            yield [
                d.document_number,
                d.item.code,
                d.counterparty_name,
                _masked(d.id_number, mask_citizen_id),
                d.credit_code or "",
                _masked(d.phone, mask_phone),
                d.status.value,
                d.approved_on.isoformat(),
            ]
        if len(batch) < BATCH:
            return
        last = batch[-1].id


async def _csv(header: list[str], rows: AsyncIterator[list[object]]) -> AsyncIterator[str]:
    """UTF-8 with a BOM, so spreadsheet programs read the Chinese right; one line at a time."""
    yield "\ufeff" + _line(header)
    async for row in rows:
        yield _line(row)


async def _xlsx(header: list[str], rows: AsyncIterator[list[object]]) -> bytes:
    """A write-only workbook: rows go straight to the sheet's XML, not into an in-memory sheet."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("导出")
    sheet.append(header)
    async for row in rows:
        cells = [WriteOnlyCell(sheet, value=v) for v in row]
        keep_as_text(cells)
        sheet.append(cells)
    buffer = io.BytesIO()
    await asyncio.to_thread(book.save, buffer)
    return buffer.getvalue()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def export_list(request: Request) -> Response:
    """GET /exports/inbox.csv (or .xlsx) ?status=PENDING&overdue=true, /exports/decisions.csv (or .xlsx): own scope."""
    user = await request_user(request)
    if user is None:
        return error_response(401, "UNAUTHENTICATED", "请先登录")
    which, suffix = request.path_params["which"], request.path_params["format"]
    if which not in ("inbox", "decisions") or suffix not in ("csv", "xlsx"):
        return error_response(404, "NOT_FOUND", "没有这种导出")
    params = request.query_params
    if which == "inbox":
        status = params.get("status")
        if status is not None and status not in PushStatus.__members__:
            return error_response(400, "BAD_USER_INPUT", "status 必须是 PENDING、CLAIMED 或 RETURNED")
        overdue_raw = params.get("overdue")
        if overdue_raw not in (None, "true", "false"):
            return error_response(400, "BAD_USER_INPUT", "overdue 必须是 true 或 false")
        overdue = None if overdue_raw is None else overdue_raw == "true"
        rows = _inbox_rows(user, PushStatus(status) if status else None, overdue)
        header = INBOX_HEADER
        detail: dict[str, object] = {"status": status, "overdue": overdue}
    else:
        rows = _decision_rows(user)
        header = DECISION_HEADER
        detail = {}
    detail["format"] = suffix
    await audit_read(request, user, f"export_{which}", "Export", which, detail)
    stamp = datetime.now(SHANGHAI).strftime("%Y%m%d%H%M")
    disposition = {"Content-Disposition": f'attachment; filename="{which}-{stamp}.{suffix}"'}
    if suffix == "xlsx":
        return Response(await _xlsx(header, rows), media_type=XLSX_TYPE, headers=disposition)
    return StreamingResponse(_csv(header, rows), media_type="text/csv; charset=utf-8", headers=disposition)
