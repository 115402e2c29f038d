"""The item catalogue and routing of decisions to supervising departments (Art. 8, 23)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.account import CODE_RE, Department, check_length
from models.db import from_row, parameter, row_values, select_list
from models.enums import AdminLevel, DepartmentKind, ResponsibilityKind, ResponsibleSide, VerificationMethod
from models.errors import DomainError, Duplicate, InvalidInput, NotFound, raise_all


class ApprovalItem(Model):
    """A kind of licence in the catalogue, with the departments that supervise it."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=128)
    legal_basis = fields.CharField(max_length=512)
    commitment_based = fields.BooleanField(default=False)
    joint_inspection = fields.BooleanField(default=False)
    responsibility = fields.CharEnumField(ResponsibilityKind, max_length=16, default=ResponsibilityKind.NORMAL)
    is_active = fields.BooleanField(default=True)
    # Art. 24 verification plan (models/commitment.py): exempt, or within N working days by method and side.
    verification_exempt = fields.BooleanField(default=False, db_default=False)
    verification_days = fields.IntField(null=True)
    verification_standard = fields.CharField(max_length=512, null=True)
    verification_method = fields.CharEnumField(VerificationMethod, max_length=16, null=True)
    verification_side = fields.CharEnumField(ResponsibleSide, max_length=16, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    supervisors: fields.ManyToManyRelation[Department] = fields.ManyToManyField(
        "shenguan.Department", related_name="supervised_items", through="item_supervisor"
    )

    class Meta:
        table = "approval_item"


async def create_approval_item(
    *,
    code: str,
    name: str,
    legal_basis: str,
    commitment_based: bool,
    joint_inspection: bool,
    supervising_department_ids: list[int],
    responsibility: ResponsibilityKind = ResponsibilityKind.NORMAL,
) -> ApprovalItem:
    """Art. 8: add an item; every supervising department must exist and be a supervision department."""
    errors: list[DomainError] = []
    code = code.strip()
    if not CODE_RE.match(code):
        errors.append(InvalidInput("编码只能包含字母、数字和 _.-，长度1-64", field="code", code="INVALID_CODE"))
    elif await ApprovalItem.filter(code=code).exists():
        errors.append(Duplicate(f"事项编码 {code} 已存在", field="code", code="DUPLICATE_CODE"))
    for field, value, limit in (("name", name, 128), ("legalBasis", legal_basis, 512)):
        try:
            check_length(value, field, limit)
        except DomainError as e:
            errors.append(e)
    ids = list(dict.fromkeys(supervising_department_ids))
    departments = await Department.filter(id__in=ids) if ids else []
    if responsibility is not ResponsibilityKind.ABOLISHED and not ids:
        errors.append(InvalidInput("至少指定一个监管部门", field="supervisingDepartmentIds", code="REQUIRED"))
    if len(departments) != len(ids):
        errors.append(NotFound("监管部门不存在", field="supervisingDepartmentIds", code="DEPARTMENT_NOT_FOUND"))
    elif any(d.kind is not DepartmentKind.SUPERVISION for d in departments):
        errors.append(
            InvalidInput(
                "监管部门必须是监管类部门", field="supervisingDepartmentIds", code="NOT_A_SUPERVISION_DEPARTMENT"
            )
        )
    raise_all(errors)
    item = await ApprovalItem.create(
        code=code,
        name=name.strip(),
        legal_basis=legal_basis.strip(),
        commitment_based=commitment_based,
        joint_inspection=joint_inspection,
        responsibility=responsibility,
    )
    if departments:
        await item.supervisors.add(*departments)
    return item


# Art. 23 over an item `i`, the issuing department `d` and a department `sd` the item lists as a
# supervisor: entrusted items and filings go to the departments the arrangement names, whatever their
# level; the rest go to the listed departments at the issuer's level (at county level, in the
# issuer's county; delegated items are issued at county level only, see check_routable).
# Filtered in SQL: an item is supervised in every county of the province, and loading all of them
# to keep three cost more than the rest of issuing the decision.
ROUTED_TO = (
    f"(i.responsibility IN ('{ResponsibilityKind.ENTRUSTED.value}', '{ResponsibilityKind.FILING.value}')"
    f" OR (sd.level = d.level AND (d.level <> '{AdminLevel.COUNTY.value}' OR sd.region_code = d.region_code)))"
)


def check_routable(item: ApprovalItem, issuer: Department) -> None:
    """Art. 23: abolished items are issued no more; delegated ones only at county level."""
    if item.responsibility is ResponsibilityKind.ABOLISHED:
        raise InvalidInput("该事项已取消审批，不能再作出审批决定", field="itemId", code="ITEM_ABOLISHED")
    if item.responsibility is ResponsibilityKind.DELEGATED and issuer.level is not AdminLevel.COUNTY:
        raise InvalidInput("该事项已下放至县级办理", field="itemId", code="ITEM_DELEGATED")


def routed_somewhere(department_ids: list[int]) -> list[int]:
    """The departments routing chose; refused when it chose none (a catalogue gap to fix first)."""
    if not department_ids:
        raise InvalidInput(
            "该事项在本级没有监管部门，无法推送；请先在事项目录中配置", field="itemId", code="NO_SUPERVISING_DEPARTMENT"
        )
    return department_ids


async def route_decision(item: ApprovalItem, issuer: Department) -> list[Department]:
    """Art. 23: the departments a decision of this item issued by this department is pushed to, by id."""
    check_routable(item, issuer)
    conn = Department._meta.db
    sql = (
        f"SELECT {select_list(Department, 'sd')} FROM item_supervisor s"
        " JOIN department sd ON sd.id = s.department_id JOIN approval_item i ON i.id = s.approval_item_id"
        f" JOIN department d ON d.id = {parameter(conn, 1)}"
        f" WHERE s.approval_item_id = {parameter(conn, 2)} AND {ROUTED_TO} ORDER BY sd.id"
    )
    _, rows = await conn.execute_query(sql, [issuer.id, item.id])
    chosen = [from_row(Department, row_values(row)) for row in rows]
    routed_somewhere([d.id for d in chosen])
    return chosen
