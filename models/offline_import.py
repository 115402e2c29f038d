"""Art. 20 (1): decisions delivered offline from self-built systems, imported from a CSV or XLSX file.

Every row is checked with the rules `issueDecision` applies; the good rows are then issued in one
transaction with channel OFFLINE, each with its pushes and outbox events. Publishing those events is
not done here (models/ knows no Redis): the worker's outbox sweep, at start and every 2 minutes,
sequences and publishes them and schedules the claim-deadline wake-ups.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tortoise.exceptions import BaseORMException
from tqdm import tqdm

from models.account import Department, User
from models.audit import record_audit
from models.calendar import SHANGHAI, current_calendar, local_date
from models.catalogue import ApprovalItem, route_decision
from models.db import write_transaction
from models.decision import Decision
from models.enums import Channel, CounterpartyKind
from models.errors import DomainError, ValidationErrors
from models.issuance import (
    CounterpartyInput,
    DecisionInput,
    check_issuer,
    record_decisions,
    same_content,
    validate_decision,
)

MAX_LISTED_ERRORS = 50
_LOOKUP_CHUNK = 500
WRITE_CHUNK = 500  # decisions written set-wise at a time: a few statements each, and a step of the progress bar


@dataclass(frozen=True)
class Column:
    """A column of the file: its key (also the English header), Chinese header and issueDecision input path."""

    key: str
    label: str
    path: str
    required: bool = False


COLUMNS = (
    Column("itemCode", "事项编码", "itemId", True),
    Column("documentNumber", "文书编号", "documentNumber", True),
    Column("content", "决定内容", "content", True),
    Column("approvedOn", "批准日期", "approvedOn", True),
    Column("validFrom", "有效期起", "validFrom"),
    Column("validUntil", "有效期止", "validUntil"),
    Column("counterpartyName", "相对人名称", "counterparty.name", True),
    Column("counterpartyKind", "相对人类型", "counterparty.kind", True),
    Column("idNumber", "身份证号码", "counterparty.idNumber"),
    Column("creditCode", "统一社会信用代码", "counterparty.creditCode"),
    Column("contactName", "联系人", "counterparty.contactName"),
    Column("phone", "联系电话", "counterparty.phone"),
    Column("address", "地址", "counterparty.address"),
)
LABEL = {c.key: c.label for c in COLUMNS}
_PATH_LABEL = {c.path: c.label for c in COLUMNS}
_ORDER = {c.label: i for i, c in enumerate(COLUMNS)}
_KINDS = {
    "自然人": CounterpartyKind.PERSON,
    "个人": CounterpartyKind.PERSON,
    "PERSON": CounterpartyKind.PERSON,
    "法人": CounterpartyKind.ORGANIZATION,
    "法人或其他组织": CounterpartyKind.ORGANIZATION,
    "其他组织": CounterpartyKind.ORGANIZATION,
    "ORGANIZATION": CounterpartyKind.ORGANIZATION,
}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$|^(\d{4})(\d{2})(\d{2})$")


def _squash(header: str) -> str:
    return re.sub(r"[\s_\-]", "", header).lower()


_HEADERS = {**{_squash(c.key): c.key for c in COLUMNS}, **{c.label: c.key for c in COLUMNS}}


@dataclass(frozen=True)
class RowError:
    """One problem in the file: its line (the header is line 1; 0 for the file as a whole) and column."""

    line: int
    field: str
    code: str
    message: str

    def describe(self) -> str:
        if self.line == 0:
            return f"文件: {self.message}"
        return f"第{self.line}行 {self.field}: {self.message}"


@dataclass
class ImportReport:
    """The outcome of one import; `errors` empty means every row was imported or already present."""

    imported: int = 0
    skipped_existing: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    @property
    def bad_lines(self) -> int:
        return len({e.line for e in self.errors if e.line > 1})

    def summary(self) -> str:
        lines = [
            f"共 {self.rows} 行数据：导入 {self.imported} 条，已存在跳过 {self.skipped_existing} 条，"
            f"有误 {self.bad_lines} 行（共 {len(self.errors)} 处错误）。"
        ]
        if self.errors:
            lines.append(f"错误明细（最多列出 {MAX_LISTED_ERRORS} 处）：")
            lines += [f"  {e.describe()}" for e in self.errors[:MAX_LISTED_ERRORS]]
            if len(self.errors) > MAX_LISTED_ERRORS:
                lines.append(f"  …… 另有 {len(self.errors) - MAX_LISTED_ERRORS} 处错误未列出")
        if self.imported:
            lines.append(
                "推送及其事件已随导入写入发件箱，由工作进程的定时清扫（启动时及每 2 分钟）发布并安排认领期限提醒。"
            )
        return "\n".join(lines)


class FileProblem(Exception):
    """The file cannot be imported at all (unreadable, wrong headers, wrong account)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def _file_error(message: str, code: str) -> FileProblem:
    return FileProblem([RowError(0, "", code, message)])


@dataclass
class _Row:
    line: int
    item_code: str
    data: DecisionInput
    errors: list[RowError]


Cell = str | date | None
Table = tuple[list[str], list[tuple[int, list[Cell]]]]


# ---------------------------------------------------------------- reading the file


def _cell(value: Any) -> Cell:
    """A spreadsheet value as text or a date; numbers typed into Excel lose their '.0'."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; Excel on Chinese Windows saves CSV as GBK, a subset of GB18030."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise _file_error("无法识别文件编码（应为 UTF-8 或 GB18030）", "UNKNOWN_ENCODING") from None


def _read_csv(path: Path) -> Iterator[tuple[int, list[Cell]]]:
    reader = csv.reader(io.StringIO(_decode(path.read_bytes()), newline=""))
    while True:
        first_line = reader.line_num + 1  # a quoted cell may span lines: report where the record starts
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _file_error(f"第{first_line}行起 CSV 格式错误：{error}", "INVALID_CSV") from None
        yield first_line, [_cell(v) for v in values]


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[Cell]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise _file_error(f"无法读取 Excel 文件：{error}", "INVALID_XLSX") from None
    try:
        sheet = book.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell(v) for v in values]
    finally:
        book.close()


def read_table(path: Path) -> Table:
    """Header cells and the non-blank data rows with their line numbers, from a .csv or .xlsx file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise _file_error(f"文件不存在：{path}", "FILE_NOT_FOUND")
    if suffix == ".csv":
        records: Iterable[tuple[int, list[Cell]]] = _read_csv(path)
    elif suffix == ".xlsx":
        records = _read_xlsx(path)
    else:
        raise _file_error("只支持 .csv 或 .xlsx 文件", "UNSUPPORTED_FILE")
    header: list[str] | None = None
    rows: list[tuple[int, list[Cell]]] = []
    for line, values in records:
        if header is None:
            header = [str(v) if v is not None else "" for v in values]
            if line != 1 or not any(header):
                raise _file_error("第1行须为表头", "MISSING_HEADER")
        elif any(v is not None for v in values):
            rows.append((line, values))
    if header is None:
        raise _file_error("文件为空", "EMPTY_FILE")
    return header, rows


def map_header(header: list[str]) -> dict[int, str]:
    """Column index → column key; unknown, repeated or missing required columns stop the import."""
    errors: list[RowError] = []
    positions: dict[int, str] = {}
    for index, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff")
        if not name:
            continue
        key = _HEADERS.get(name) or _HEADERS.get(_squash(name))
        if key is None:
            errors.append(RowError(1, name, "UNKNOWN_COLUMN", f"未知的列“{name}”"))
        elif key in positions.values():
            errors.append(RowError(1, name, "DUPLICATE_COLUMN", f"列“{LABEL[key]}”出现了不止一次"))
        else:
            positions[index] = key
    for column in COLUMNS:
        if column.required and column.key not in positions.values():
            errors.append(RowError(1, column.label, "MISSING_COLUMN", f"缺少必需的列“{column.label}”"))
    if errors:
        raise FileProblem(errors)
    return positions


# ---------------------------------------------------------------- checking one row


def _text(cells: dict[str, Cell], key: str) -> str | None:
    value = cells.get(key)
    return value.isoformat() if isinstance(value, date) else value


def _date(cells: dict[str, Cell], key: str, errors: list[RowError], line: int) -> date | None:
    value = cells.get(key)
    if value is None or isinstance(value, date):
        return value
    match = _DATE.match(value)
    if match:
        y, m, d = (int(g) for g in (match.group(1, 2, 3) if match.group(1) else match.group(4, 5, 6)))
        try:
            return date(y, m, d)
        except ValueError:
            pass
    errors.append(RowError(line, LABEL[key], "INVALID_DATE", f"日期“{value}”无效（应为 YYYY-MM-DD）"))
    return None


def parse_row(line: int, values: list[Cell], positions: dict[int, str], today: date) -> _Row:
    """One data row as a DecisionInput (channel OFFLINE), with every error validate_decision finds."""
    errors: list[RowError] = []
    cells = {key: values[i] for i, key in positions.items() if i < len(values)}
    if any(v is not None for i, v in enumerate(values) if i not in positions):
        errors.append(RowError(line, "表头外", "EXTRA_CELLS", "表头以外的列有内容（内容中的逗号是否未加引号？）"))
    item_code = _text(cells, "itemCode") or ""
    if not item_code:
        errors.append(RowError(line, LABEL["itemCode"], "REQUIRED", "不能为空"))
    approved_on = _date(cells, "approvedOn", errors, line)
    if approved_on is None and cells.get("approvedOn") is None:
        errors.append(RowError(line, LABEL["approvedOn"], "REQUIRED", "不能为空"))
    raw_kind = _text(cells, "counterpartyKind")
    kind = _KINDS.get((raw_kind or "").upper())
    if kind is None:
        message = "不能为空" if raw_kind is None else f"“{raw_kind}”无效（应为 自然人 或 法人）"
        errors.append(
            RowError(line, LABEL["counterpartyKind"], "REQUIRED" if raw_kind is None else "INVALID_KIND", message)
        )
    data = DecisionInput(
        item_id=0,
        document_number=_text(cells, "documentNumber") or "",
        content=_text(cells, "content") or "",
        # A missing or unreadable date is already reported; today adds no second error.
        approved_on=approved_on or today,
        counterparty=CounterpartyInput(
            name=_text(cells, "counterpartyName") or "",
            kind=kind or CounterpartyKind.PERSON,
            id_number=_text(cells, "idNumber"),
            credit_code=_text(cells, "creditCode"),
            contact_name=_text(cells, "contactName"),
            phone=_text(cells, "phone"),
            address=_text(cells, "address"),
        ),
        valid_from=_date(cells, "validFrom", errors, line),
        valid_until=_date(cells, "validUntil", errors, line),
        channel=Channel.OFFLINE,
    )
    cleaned, found = validate_decision(data, today)
    for error in found:
        if kind is None and error.field in ("counterparty.idNumber", "counterparty.creditCode"):
            continue  # which identifier is needed depends on the kind, already reported as wrong
        errors += row_errors(line, error)
    return _Row(line, item_code, cleaned, errors)


def row_errors(line: int, error: DomainError) -> list[RowError]:
    """A domain error (or several at once) as errors of this line, named by the file's columns."""
    if isinstance(error, ValidationErrors):
        return [e for inner in error.errors for e in row_errors(line, inner)]
    return [RowError(line, _PATH_LABEL.get(error.field or "", ""), error.code, error.message)]


class _Catalogue:
    """Items by code and their routing for this issuer, each looked up once per import."""

    def __init__(self, issuer: Department) -> None:
        self.issuer = issuer
        self.found: dict[str, ApprovalItem | DomainError] = {}
        self.routes: dict[int, list[int]] = {}  # item id -> supervising department ids (Art. 23)

    async def resolve(self, row: _Row) -> None:
        if not row.item_code:
            return
        if row.item_code not in self.found:
            self.found[row.item_code] = await self._lookup(row.item_code)
        outcome = self.found[row.item_code]
        if isinstance(outcome, DomainError):
            row.errors.append(RowError(row.line, LABEL["itemCode"], outcome.code, outcome.message))
        else:
            row.data.item_id = outcome.id

    async def _lookup(self, code: str) -> ApprovalItem | DomainError:
        item = await ApprovalItem.get_or_none(code=code)
        if item is None or not item.is_active:
            return DomainError(f"事项编码 {code} 不存在或已停用", code="ITEM_NOT_FOUND")
        try:  # Art. 23: no decision without a supervisor
            self.routes[item.id] = [d.id for d in await route_decision(item, self.issuer)]
        except DomainError as error:
            return error
        return item


# ---------------------------------------------------------------- the whole file


def _flag_repeats(rows: list[_Row]) -> None:
    """A number used twice in one file is ambiguous: none of its rows is imported."""
    lines: dict[str, list[int]] = {}
    for row in rows:
        if row.data.document_number:
            lines.setdefault(row.data.document_number, []).append(row.line)
    for row in rows:
        seen = lines.get(row.data.document_number, [])
        if len(seen) > 1:
            where = "、".join(map(str, seen))
            message = f"文书编号 {row.data.document_number} 在文件中重复（第{where}行）"
            row.errors.append(RowError(row.line, LABEL["documentNumber"], "DUPLICATE_IN_FILE", message))


async def _known_hashes(issuer_id: int, numbers: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    for start in range(0, len(numbers), _LOOKUP_CHUNK):
        chunk = numbers[start : start + _LOOKUP_CHUNK]
        for number, digest in await Decision.filter(issuer_id=issuer_id, document_number__in=chunk).values_list(
            "document_number", "content_hash"
        ):
            known[str(number)] = str(digest)
    return known


async def _split_existing(rows: list[_Row], issuer_id: int, report: ImportReport) -> list[_Row]:
    """Same number and content: already there (an earlier run of this file); other content: a conflict."""
    known = await _known_hashes(issuer_id, [r.data.document_number for r in rows])
    fresh: list[_Row] = []
    for row in rows:
        digest = known.get(row.data.document_number)
        if digest is None:
            fresh.append(row)
        elif same_content(row.data, digest):
            report.skipped_existing += 1
        else:
            message = f"文书编号 {row.data.document_number} 已用于另一份审批决定"
            row.errors.append(RowError(row.line, LABEL["documentNumber"], "DUPLICATE_DOCUMENT_NUMBER", message))
    return fresh


async def _importer(username: str) -> tuple[User, Department]:
    """The account the batch is issued as: an officer, liaison or system account of an approval department."""
    user = await User.get_or_none(username=username)
    if user is None or not user.is_active:
        raise _file_error(f"账号 {username} 不存在或已停用", "USER_NOT_FOUND")
    try:
        return user, await check_issuer(user)
    except DomainError as error:
        raise _file_error(error.message, error.code) from None


def _bar(what: str, total: int, progress: bool) -> tqdm[Any]:
    """A progress bar on stderr, so the summary on stdout stays clean for scripts."""
    return tqdm(total=total, desc=what, unit="行", file=sys.stderr, disable=not progress, leave=False)


async def _issue_all(
    actor: User,
    catalogue: _Catalogue,
    rows: list[_Row],
    report: ImportReport,
    *,
    source: str,
    now: datetime,
    progress: bool,
) -> None:
    """All good rows in one transaction: either every one is issued with its pushes and events, or none.

    The rows were checked, routed and ruled out as existing already; only the writes happen here. A number
    another writer took in the meantime breaks the unique key and rolls the whole batch back.
    """
    try:
        async with write_transaction():
            calendar = await current_calendar()
            with _bar("导入", len(rows), progress) as bar:
                for start in range(0, len(rows), WRITE_CHUNK):
                    chunk = [
                        (row.data, catalogue.routes[row.data.item_id]) for row in rows[start : start + WRITE_CHUNK]
                    ]
                    await record_decisions(actor, catalogue.issuer, chunk, now=now, calendar=calendar)
                    bar.update(len(chunk))
            detail = {
                "file": source,
                "imported": len(rows),
                "skippedExisting": report.skipped_existing,
                "channel": "OFFLINE",
            }
            await record_audit(
                "importDecisions", actor_id=actor.id, department_id=actor.department_id, address="cli", detail=detail
            )
    except BaseORMException as error:
        report.errors.append(RowError(0, "", "IMPORT_FAILED", f"写入数据库失败，本次导入已全部回滚：{error}"))
        return
    report.imported += len(rows)


async def import_file(path: Path, *, username: str, progress: bool = True, now: datetime | None = None) -> ImportReport:
    """Art. 20 (1): validate every row of an offline batch, report each bad one, issue the good ones together."""
    now = now or datetime.now(SHANGHAI)
    today = local_date(now)
    report = ImportReport()
    try:
        actor, issuer = await _importer(username)
        header, records = read_table(path)
        positions = map_header(header)
    except FileProblem as problem:
        report.errors = problem.errors
        return report
    report.rows = len(records)
    catalogue = _Catalogue(issuer)
    rows: list[_Row] = []
    with _bar("校验", len(records), progress) as bar:
        for line, values in records:
            row = parse_row(line, values, positions, today)
            await catalogue.resolve(row)
            rows.append(row)
            bar.update()
    _flag_repeats(rows)
    good = await _split_existing([r for r in rows if not r.errors], issuer.id, report)
    if good:
        await _issue_all(actor, catalogue, good, report, source=path.name, now=now, progress=progress)
    report.errors = sorted(
        [e for r in rows for e in r.errors] + report.errors, key=lambda e: (e.line, _ORDER.get(e.field, 99))
    )
    return report
