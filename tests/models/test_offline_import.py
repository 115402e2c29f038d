"""Art. 20 (1): offline decisions imported from CSV / XLSX — every bad row reported, the good ones in one go."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from models.audit import AuditRecord
from models.decision import Decision, DecisionPush
from models.enums import AdminLevel, Channel, DepartmentKind, Role
from models.event import Event, EventKind, EventRecipient
from models.identifiers import make_citizen_id, make_credit_code
from models.offline_import import ImportReport, RowError, import_file
from tests import factories as f
from tests.conftest import ROOT, SECRET

NOW = f.at(2026, 3, 10)  # a Tuesday: claims are due Friday 2026-03-13
HEADER = [
    "事项编码",
    "文书编号",
    "决定内容",
    "批准日期",
    "有效期起",
    "有效期止",
    "相对人名称",
    "相对人类型",
    "身份证号码",
    "统一社会信用代码",
    "联系人",
    "联系电话",
    "地址",
]
PERSON_ID = make_citizen_id("370811", "19860214", 1)
OTHER_ID = make_citizen_id("370811", "19900101", 2)
BAD_ID = PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1")
CREDIT = make_credit_code("91370800MA3C4D5E6")


def num(n: int) -> str:
    """A document number as the bureau writes it, with tortoise-shell brackets (U+3014, U+3015)."""
    return f"济审\u30142026\u3015{n}号"


def person_row(
    number: str,
    *,
    item: str = "FOOD-1",
    content: str = "准予许可",
    approved: Any = "2026-03-09",
    id_number: str = PERSON_ID,
) -> list[Any]:
    return [
        item,
        number,
        content,
        approved,
        "2026-03-09",
        "2031-03-08",
        "张三",
        "自然人",
        id_number,
        "",
        "张三",
        "13853712345",
        "济宁市任城区",
    ]


def org_row(number: str) -> list[Any]:
    return [
        "FOOD-1",
        number,
        "准予许可",
        "2026/3/9",
        "",
        "",
        "济宁鲁兴餐饮管理有限公司",
        "法人",
        "",
        CREDIT,
        "李四",
        "0537-2345678",
        "",
    ]


# The mixed file: line 1 is the header; line 9 is blank and is skipped without shifting line numbers.
MIXED = [
    HEADER,
    person_row(num(1)),  # 2 good
    org_row(num(2)),  # 3 good
    person_row(num(3), id_number=BAD_ID),  # 4 bad checksum
    person_row(num(4), content=""),  # 5 missing content
    person_row(num(5), approved="2026-03-11"),  # 6 approved tomorrow
    person_row(num(6), item="NO-SUCH-ITEM"),  # 7 unknown item
    person_row(num(7), id_number=OTHER_ID),  # 8 number repeated on line 10
    [""] * len(HEADER),  # 9 blank
    person_row(num(7)),  # 10 repeat of line 8
    person_row(num(8), approved="20260310"),  # 11 good, approved today
]
MIXED_ERRORS = [
    RowError(4, "身份证号码", "INVALID_ID_NUMBER", "公民身份证号码无效（校验位不符）"),
    RowError(5, "决定内容", "REQUIRED", "不能为空"),
    RowError(6, "批准日期", "DATE_IN_FUTURE", "批准日期不能晚于今天"),
    RowError(7, "事项编码", "ITEM_NOT_FOUND", "事项编码 NO-SUCH-ITEM 不存在或已停用"),
    RowError(8, "文书编号", "DUPLICATE_IN_FILE", f"文书编号 {num(7)} 在文件中重复（第8、10行）"),
    RowError(10, "文书编号", "DUPLICATE_IN_FILE", f"文书编号 {num(7)} 在文件中重复（第8、10行）"),
]
GOOD_NUMBERS = {num(1), num(2), num(8)}


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    for values in rows:
        sheet.append([None if v == "" else v for v in values])
    book.save(path)
    return path


@pytest.fixture
async def world(db: str) -> dict[str, Any]:
    approval = await f.department(DepartmentKind.APPROVAL, code="APPROVAL")
    market = await f.department(DepartmentKind.SUPERVISION, code="MARKET")
    health = await f.department(DepartmentKind.SUPERVISION, code="HEALTH")
    county = await f.department(DepartmentKind.SUPERVISION, level=AdminLevel.COUNTY, region="370811")
    officer = await f.user(approval, Role.OFFICER, username="importer")
    item = await f.item(market, health, county, code="FOOD-1")
    return {"approval": approval, "market": market, "health": health, "officer": officer, "item": item}


async def written() -> tuple[int, int, int, int]:
    return (
        await Decision.all().count(),
        await DecisionPush.all().count(),
        await Event.all().count(),
        await AuditRecord.all().count(),
    )


def mixed_file(tmp_path: Path, kind: str) -> Path:
    rows = [list(r) for r in MIXED]
    if kind == "xlsx":
        rows[2][3] = date(2026, 3, 9)  # a real date cell
        rows[2][11] = "0537-2345678"
        rows[1][11] = 13853712345  # a phone typed as a number
        return write_xlsx(tmp_path / "decisions.xlsx", rows)
    encoding = {"csv-utf8": "utf-8", "csv-bom": "utf-8-sig", "csv-gb18030": "gb18030"}[kind]
    return write_csv(tmp_path / "decisions.csv", rows, encoding)


@pytest.mark.parametrize("kind", ["csv-utf8", "csv-bom", "csv-gb18030", "xlsx"])
async def test_every_bad_row_is_reported_by_line_and_column_and_the_good_rows_are_imported_offline(
    world: dict[str, Any], tmp_path: Path, kind: str
) -> None:
    report = await import_file(mixed_file(tmp_path, kind), username="importer", progress=False, now=NOW)

    assert report.errors == MIXED_ERRORS
    assert (report.rows, report.imported, report.skipped_existing) == (9, 3, 0)
    decisions = await Decision.all().order_by("id")
    assert {d.document_number for d in decisions} == GOOD_NUMBERS
    assert {d.channel for d in decisions} == {Channel.OFFLINE}
    assert {d.created_by_id for d in decisions} == {world["officer"].id}
    org = next(d for d in decisions if d.document_number == num(2))
    assert (org.credit_code, org.id_number, org.approved_on, org.phone) == (
        CREDIT,
        None,
        date(2026, 3, 9),
        "0537-2345678",
    )
    first = next(d for d in decisions if d.document_number == num(1))
    assert (first.id_number, first.phone, first.valid_until) == (PERSON_ID, "13853712345", date(2031, 3, 8))
    # Each decision pushed to the two city supervisors (not the county one), due in 3 working days.
    pushes = await DecisionPush.all()
    assert sorted((p.decision_id, p.department_id) for p in pushes) == sorted(
        (d.id, dep.id) for d in decisions for dep in (world["market"], world["health"])
    )
    assert {(p.claim_due_on, p.pushed_at) for p in pushes} == {(date(2026, 3, 13), NOW)}
    events = await Event.all()
    assert sorted(e.subject_id for e in events) == sorted(p.id for p in pushes)
    assert {e.kind for e in events} == {EventKind.PUSH_CREATED}
    assert {e.seq for e in events} == {None}  # sequenced and published after commit, by the sweep
    recipients = await EventRecipient.all().values_list("event_id", "department_id")
    assert sorted(recipients) == sorted((e.id, p.department_id) for e in events for p in pushes if p.id == e.subject_id)
    audit = await AuditRecord.get(action="importDecisions")
    assert (audit.actor_id, audit.department_id, audit.detail["imported"]) == (
        world["officer"].id,
        world["approval"].id,
        3,
    )


async def test_running_the_same_file_again_skips_what_is_already_present(world: dict[str, Any], tmp_path: Path) -> None:
    path = mixed_file(tmp_path, "csv-utf8")
    await import_file(path, username="importer", progress=False, now=NOW)
    before = await written()

    again = await import_file(path, username="importer", progress=False, now=NOW)

    assert (again.imported, again.skipped_existing, again.errors) == (0, 3, MIXED_ERRORS)
    assert await written() == before


async def test_an_existing_number_with_other_content_is_a_duplicate_and_the_rest_still_imports(
    world: dict[str, Any], tmp_path: Path
) -> None:
    await f.decision(world["officer"], world["item"], now=NOW, number=num(1))
    path = write_csv(tmp_path / "d.csv", [HEADER, person_row(num(1)), person_row(num(9))])

    report = await import_file(path, username="importer", progress=False, now=NOW)

    assert report.errors == [
        RowError(2, "文书编号", "DUPLICATE_DOCUMENT_NUMBER", f"文书编号 {num(1)} 已用于另一份审批决定")
    ]
    assert (report.imported, report.skipped_existing) == (1, 0)
    channels = dict(await Decision.all().values_list("document_number", "channel"))
    assert channels == {num(1): Channel.PLATFORM, num(9): Channel.OFFLINE}


async def test_a_row_already_issued_offline_with_the_same_content_is_skipped_not_an_error(
    world: dict[str, Any], tmp_path: Path
) -> None:
    single = write_csv(tmp_path / "one.csv", [HEADER, person_row(num(1))])
    await import_file(single, username="importer", progress=False, now=NOW)
    both = write_csv(tmp_path / "two.csv", [HEADER, person_row(num(1)), org_row(num(2))])

    report = await import_file(both, username="importer", progress=False, now=NOW)

    assert (report.errors, report.imported, report.skipped_existing) == ([], 1, 1)
    assert await Decision.all().count() == 2


async def test_english_headers_in_any_order_are_accepted(world: dict[str, Any], tmp_path: Path) -> None:
    header = [
        "documentNumber",
        "item_code",
        "Content",
        "approvedOn",
        "counterpartyName",
        "counterpartyKind",
        "creditCode",
    ]
    row = [num(1), "FOOD-1", "准予许可", "2026年3月9日", "济宁鲁兴餐饮管理有限公司", "ORGANIZATION", CREDIT]
    report = await import_file(
        write_csv(tmp_path / "en.csv", [header, row]), username="importer", progress=False, now=NOW
    )

    assert (report.errors, report.imported) == ([], 1)
    decision = await Decision.get(document_number=num(1))
    assert (decision.approved_on, decision.credit_code) == (date(2026, 3, 9), CREDIT)


async def test_unknown_repeated_or_missing_columns_stop_the_import_before_any_row(
    world: dict[str, Any], tmp_path: Path
) -> None:
    header = [h for h in HEADER if h != "批准日期"] + ["备注", "地址"]
    rows = [header, [*person_row(num(1))[:3], *person_row("x")[4:], "备注", "济宁"]]

    report = await import_file(write_csv(tmp_path / "h.csv", rows), username="importer", progress=False, now=NOW)

    assert report.errors == [
        RowError(1, "备注", "UNKNOWN_COLUMN", "未知的列“备注”"),
        RowError(1, "地址", "DUPLICATE_COLUMN", "列“地址”出现了不止一次"),
        RowError(1, "批准日期", "MISSING_COLUMN", "缺少必需的列“批准日期”"),
    ]
    assert (report.rows, report.imported) == (0, 0)
    assert await written() == (0, 0, 0, 0)


async def test_unreadable_values_are_named_by_column(world: dict[str, Any], tmp_path: Path) -> None:
    row = person_row(num(1), approved="2026-02-30")
    row[7] = "公司"
    row[11] = "12345"
    extra = [*person_row(num(2)), "多余"]

    report = await import_file(
        write_csv(tmp_path / "v.csv", [HEADER, row, extra]), username="importer", progress=False, now=NOW
    )

    assert report.errors == [
        RowError(2, "批准日期", "INVALID_DATE", "日期“2026-02-30”无效（应为 YYYY-MM-DD）"),
        RowError(2, "相对人类型", "INVALID_KIND", "“公司”无效（应为 自然人 或 法人）"),
        RowError(2, "联系电话", "INVALID_PHONE", "联系电话格式不正确"),
        RowError(3, "表头外", "EXTRA_CELLS", "表头以外的列有内容（内容中的逗号是否未加引号？）"),
    ]
    assert await written() == (0, 0, 0, 0)


async def test_a_quoted_cell_spanning_lines_reports_the_line_where_its_record_starts(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rows = [HEADER, person_row(num(1), content="准予许可\n附：经营项目清单"), person_row(num(2), id_number=BAD_ID)]

    report = await import_file(write_csv(tmp_path / "m.csv", rows), username="importer", progress=False, now=NOW)

    assert report.errors == [RowError(4, "身份证号码", "INVALID_ID_NUMBER", "公民身份证号码无效（校验位不符）")]
    assert (await Decision.get(document_number=num(1))).content == "准予许可\n附：经营项目清单"


@pytest.mark.parametrize(
    ("username", "message", "code"),
    [
        ("nobody", "账号 nobody 不存在或已停用", "USER_NOT_FOUND"),
        ("watcher", "只有审批部门的经办人、联络员或系统账号可以作出审批决定", "FORBIDDEN"),
    ],
)
async def test_only_an_approval_department_account_may_import(
    world: dict[str, Any], tmp_path: Path, username: str, message: str, code: str
) -> None:
    await f.user(world["market"], Role.OFFICER, username="watcher")
    path = write_csv(tmp_path / "d.csv", [HEADER, person_row(num(1))])

    report = await import_file(path, username=username, progress=False, now=NOW)

    assert report.errors == [RowError(0, "", code, message)]
    assert await written() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("name", "content", "message", "code"),
    [
        ("d.txt", b"x", "只支持 .csv 或 .xlsx 文件", "UNSUPPORTED_FILE"),
        ("d.csv", b"", "文件为空", "EMPTY_FILE"),
        ("d.csv", "事项编码\n".encode("utf-16"), "无法识别文件编码（应为 UTF-8 或 GB18030）", "UNKNOWN_ENCODING"),
    ],
)
async def test_a_file_that_cannot_be_read_is_one_clear_error(
    world: dict[str, Any], tmp_path: Path, name: str, content: bytes, message: str, code: str
) -> None:
    (tmp_path / name).write_bytes(content)

    report = await import_file(tmp_path / name, username="importer", progress=False, now=NOW)

    assert report.errors == [RowError(0, "", code, message)]
    assert report.summary().splitlines() == [
        "共 0 行数据：导入 0 条，已存在跳过 0 条，有误 0 行（共 1 处错误）。",
        "错误明细（最多列出 50 处）：",
        f"  文件: {message}",
    ]


async def test_summary_lists_counts_and_at_most_fifty_errors() -> None:
    errors = [RowError(n, "文书编号", "REQUIRED", "不能为空") for n in range(2, 62)]
    report = ImportReport(imported=2, skipped_existing=1, errors=errors, rows=63)

    lines = report.summary().splitlines()

    assert lines[0] == "共 63 行数据：导入 2 条，已存在跳过 1 条，有误 60 行（共 60 处错误）。"
    assert lines[2:4] == ["  第2行 文书编号: 不能为空", "  第3行 文书编号: 不能为空"]
    assert lines[51] == "  第51行 文书编号: 不能为空"
    assert lines[52] == "  …… 另有 10 处错误未列出"
    assert "定时清扫" in lines[53]


async def test_progress_bars_go_to_stderr(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "d.csv", [HEADER, person_row(num(1))])

    await import_file(path, username="importer", progress=True, now=NOW)

    captured = capsys.readouterr()
    assert ("校验" in captured.err, "导入" in captured.err, captured.out) == (True, True, "")


async def test_an_item_nobody_supervises_at_this_level_is_refused(world: dict[str, Any], tmp_path: Path) -> None:
    county_only = await f.department(DepartmentKind.SUPERVISION, level=AdminLevel.COUNTY, region="370811")
    await f.item(county_only, code="COUNTY-ONLY")
    rows = [HEADER, person_row(num(1), item="COUNTY-ONLY"), person_row(num(2), item="COUNTY-ONLY")]

    report = await import_file(write_csv(tmp_path / "d.csv", rows), username="importer", progress=False, now=NOW)

    message = "该事项在本级没有监管部门，无法推送；请先在事项目录中配置"
    assert report.errors == [RowError(n, "事项编码", "NO_SUPERVISING_DEPARTMENT", message) for n in (2, 3)]
    assert await written() == (0, 0, 0, 0)


async def _cli(path: Path, database_url: str, var_dir: Path, *extra: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SHENGUAN_VAR_DIR": str(var_dir), "SHENGUAN_SECRET_KEY": SECRET}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "import-decisions",
        str(path),
        "--as-user",
        "importer",
        *extra,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_cli_exits_0_when_every_row_imports_and_1_with_bad_rows(
    world: dict[str, Any], db: str, tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "good.csv", [HEADER, person_row(num(1)), org_row(num(2))])
    # Approval dates in the past of the real clock: the CLI uses the time of day it runs at.
    code, out, err = await _cli(good, db, tmp_path / "var", "--quiet")

    assert code == 0, err
    assert out.splitlines()[0] == "共 2 行数据：导入 2 条，已存在跳过 0 条，有误 0 行（共 0 处错误）。"
    assert "校验" not in err
    assert {d.channel for d in await Decision.all()} == {Channel.OFFLINE}
    assert await DecisionPush.all().count() == 4

    rows = [
        HEADER,
        person_row(num(1)),
        person_row(num(3), id_number=BAD_ID),
        person_row(num(4), item="NO-SUCH-ITEM"),
        org_row(num(5)),
    ]
    code, out, err = await _cli(write_xlsx(tmp_path / "mixed.xlsx", rows), db, tmp_path / "var")

    assert code == 1
    assert out.splitlines()[:5] == [
        "共 4 行数据：导入 1 条，已存在跳过 1 条，有误 2 行（共 2 处错误）。",
        "错误明细（最多列出 50 处）：",
        "  第3行 身份证号码: 公民身份证号码无效（校验位不符）",
        "  第4行 事项编码: 事项编码 NO-SUCH-ITEM 不存在或已停用",
        "推送及其事件已随导入写入发件箱，由工作进程的定时清扫（启动时及每 2 分钟）发布并安排认领期限提醒。",
    ]
    assert "校验" in err  # the progress bar, on stderr
    assert sorted(await Decision.all().values_list("document_number", flat=True)) == [num(1), num(2), num(5)]
