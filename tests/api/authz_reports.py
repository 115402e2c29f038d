"""Authorisation-matrix rows: the to-do list, timeliness statistics and reports, and the audit trail.

The audit trail is for the AUDITOR role alone, whatever department the record is of; every other role
is denied. Of its own department an auditor reads the inbox and the timeliness records, as its
leader does, but no credit records (tests/api/authz_oversight.py): those carry personal data.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import date
from pathlib import Path

from models.account import Department
from models.audit import record_audit
from models.enums import DepartmentKind, ReportKind
from models.obligation import obligation_kind, open_obligation
from models.report import produce_report
from tests.api.authz import ISSUED, NOW, PAGE, Case, Target, World, gid, push_of

TODO = obligation_kind("MATRIX_REPLY", "矩阵答复", 5)
PERIOD = {"f": "2026-09-01", "t": "2026-10-31"}
_probe = itertools.count(1)
REPORTS_DIR = Path(tempfile.mkdtemp(prefix="shenguan-matrix-reports-"))


async def an_obligation(w: World, dept: Department) -> Target:
    row = await open_obligation(
        TODO.kind, subject_type="Department", subject_id=dept.id, department_id=dept.id, start=ISSUED
    )
    return Target({}, gid("Obligation", row.id))


async def a_period(w: World, dept: Department) -> Target:
    return Target(dict(PERIOD))


async def an_audit_record(w: World, dept: Department) -> Target:
    """A record of the department's, under an object type no other cell writes (found by that filter)."""
    object_type = f"MatrixProbe{next(_probe)}"
    record = await record_audit("matrixProbe", actor_id=None, department_id=dept.id, object_type=object_type)
    return Target({"o": object_type}, gid("AuditRecord", record.id))


async def records_of(w: World, dept: Department) -> Target:
    """A push the department received (supervision departments; approval departments receive none)."""
    variables = {**PERIOD, "d": gid("Department", dept.id)}
    if dept.kind is not DepartmentKind.SUPERVISION:
        return Target(variables)
    push = await push_of(w, dept)
    return Target(variables, gid("DecisionPush", push.id))


async def a_report(w: World, dept: Department) -> Target:
    report, _ = await produce_report(
        ReportKind.ON_DEMAND, date(2026, 9, 1), date(2026, 9, 30), now=NOW, reports_dir=REPORTS_DIR
    )
    return Target({}, gid("TimelinessReport", report.id))


READERS = "*:deny appr:allow integ:allow leader:allow admin:allow"

ROWS: dict[str, Case] = {
    "obligations": Case(f"{{ obligations(first: 100) {{ {PAGE} }} }}", an_obligation, "*/own:allow */foreign:empty anon:deny"),
    "timelinessStatistics": Case("query($f: Date!, $t: Date!) { timelinessStatistics(from: $f, to: $t) { pushed } }", a_period, "*:allow anon:deny"),
    "timelinessRecords": Case(f"query($d: ID!, $f: Date!, $t: Date!) {{ timelinessRecords(departmentId: $d, from: $f, to: $t) {{ {PAGE} }} }}", records_of, "*:deny appr:empty integ:empty sup/own:allow liaison/own:allow leader:allow admin/own:empty admin/foreign:allow auditor/own:allow"),
    "timelinessReports": Case(f"{{ timelinessReports(first: 100) {{ {PAGE} }} }}", a_report, READERS),
    "generateTimelinessReport": Case("mutation($f: Date!, $t: Date!) { generateTimelinessReport(from: $f, to: $t) { errors { code } } }", a_period, READERS),
    "departmentsWithoutLiaison": Case("{ departmentsWithoutLiaison { id } }", a_period, READERS),
    "auditRecords": Case(f"query($o: String) {{ auditRecords(first: 10, objectType: $o) {{ {PAGE} }} }}", an_audit_record, "*:deny auditor:allow"),
}  # fmt: skip
