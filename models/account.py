"""Departments, user accounts and liaison officers (Art. 3, 27, 28)."""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import fields
from tortoise.models import Model

from models.crypto import SealedField
from models.enums import AdminLevel, DepartmentKind, Role
from models.errors import DomainError, Duplicate, Forbidden, InvalidInput, NotFound, raise_all
from models.event import EventKind, record_event

# \Z, not $: "$" also matches before a trailing newline, which would let "370800\n" through.
# re.ASCII: \d would otherwise accept full-width and other Unicode digits.
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_]{2,63}\Z", re.ASCII)
REGION_RE = re.compile(r"^[1-8]\d{5}\Z", re.ASCII)
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z", re.ASCII)
PHONE_RE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})\Z", re.ASCII)
# NUL is refused by PostgreSQL text columns and a lone surrogate cannot be encoded at all: both
# would surface as a server error, so they are input errors. Tab and newlines stay allowed (content).
UNSTORABLE_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
_hasher = PasswordHasher()


class Department(Model):
    """A department at city or county level, on the approval or the supervision side."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=128)
    kind = fields.CharEnumField(DepartmentKind, max_length=16)
    level = fields.CharEnumField(AdminLevel, max_length=16)
    region_code = fields.CharField(max_length=6)
    parent: fields.ForeignKeyNullableRelation[Department] = fields.ForeignKeyField(
        "shenguan.Department", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "department"
        indexes = (("kind", "level"), ("region_code",))


class User(Model):
    """An account, never deleted, only disabled. token_version revokes issued tokens."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=256)
    display_name = fields.CharField(max_length=64)
    department: fields.ForeignKeyRelation[Department] = fields.ForeignKeyField(
        "shenguan.Department", related_name="users", on_delete=fields.RESTRICT
    )
    department_id: int
    roles: list[str] = fields.JSONField(default=list)
    is_active = fields.BooleanField(default=True)
    token_version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "user_account"

    def has_role(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN.value in self.roles


class LiaisonAppointment(Model):
    """Art. 27–28: one term of a liaison officer, from appointment until replaced or removed."""

    id = fields.IntField(primary_key=True)
    department: fields.ForeignKeyRelation[Department] = fields.ForeignKeyField(
        "shenguan.Department", related_name="liaisons", on_delete=fields.RESTRICT
    )
    department_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "shenguan.User", related_name="liaison_terms", on_delete=fields.RESTRICT
    )
    user_id: int
    title = fields.CharField(max_length=64)
    phone = SealedField("liaison_appointment.phone")  # PIPL: stored sealed
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    appointed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "shenguan.User", related_name=False, null=True, on_delete=fields.RESTRICT
    )

    class Meta:
        table = "liaison_appointment"
        indexes = (("department_id", "ended_at"),)

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def has_unstorable_characters(value: str) -> bool:
    """Control characters (other than tab and newlines) or lone surrogates."""
    return UNSTORABLE_RE.search(value) is not None


def storable(value: str) -> str:
    """The text with unstorable characters replaced by U+FFFD, for recording what a caller sent."""
    return UNSTORABLE_RE.sub("\ufffd", value)


def check_password_strength(password: str, field: str = "password") -> None:
    """At least 10 characters from three of: lower case, upper case, digits, symbols."""
    if has_unstorable_characters(password):
        raise InvalidInput("密码含有不允许的控制字符", field=field, code="INVALID_CHARACTERS")
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if len(password) < MIN_PASSWORD_LENGTH or classes < 3 or len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "密码至少10位，且须包含大写字母、小写字母、数字、符号中的至少三类",
            field=field,
            code="WEAK_PASSWORD",
        )


def check_length(value: str, field: str, max_length: int, *, required: bool = True) -> str:
    """Trim a text input and reject empty (when required), oversized or unstorable values."""
    value = value.strip()
    if required and not value:
        raise InvalidInput("不能为空", field=field, code="REQUIRED")
    if len(value) > max_length:
        raise InvalidInput(f"长度不能超过{max_length}个字符", field=field, code="TOO_LONG")
    if has_unstorable_characters(value):
        raise InvalidInput("含有不允许的控制字符", field=field, code="INVALID_CHARACTERS")
    return value


def can_manage_accounts(actor: User, department_id: int) -> bool:
    """Art. 28: admins manage every account; a liaison officer manages their own department's."""
    return actor.is_admin or (actor.has_role(Role.LIAISON) and actor.department_id == department_id)


def can_manage_user(actor: User, user: User) -> bool:
    """Art. 28: as can_manage_accounts, but only an admin manages an admin's account."""
    return can_manage_accounts(actor, user.department_id) and (actor.is_admin or not user.is_admin)


async def create_department(
    *,
    code: str,
    name: str,
    kind: DepartmentKind,
    level: AdminLevel,
    region_code: str,
    parent_id: int | None,
) -> Department:
    """Create a department; codes are unique, the region is a 6-digit division code."""
    errors: list[DomainError] = []
    code = code.strip()
    if not CODE_RE.match(code):
        errors.append(InvalidInput("编码只能包含字母、数字和 _.-，长度1-64", field="code", code="INVALID_CODE"))
    elif await Department.filter(code=code).exists():
        errors.append(Duplicate(f"部门编码 {code} 已存在", field="code", code="DUPLICATE_CODE"))
    try:
        name = check_length(name, "name", 128)
    except DomainError as e:
        errors.append(e)
    if not REGION_RE.match(region_code):
        errors.append(InvalidInput("行政区划代码应为6位数字", field="regionCode", code="INVALID_REGION_CODE"))
    if parent_id is not None and not await Department.filter(id=parent_id).exists():
        errors.append(NotFound("上级部门不存在", field="parentId", code="DEPARTMENT_NOT_FOUND"))
    raise_all(errors)
    return await Department.create(
        code=code, name=name, kind=kind, level=level, region_code=region_code, parent_id=parent_id
    )


async def create_user(
    actor: User,
    *,
    username: str,
    password: str,
    display_name: str,
    department_id: int,
    roles: list[Role],
) -> User:
    """Create an account in a department the actor manages; only admins grant ADMIN."""
    if not await Department.filter(id=department_id).exists():
        raise NotFound("部门不存在", field="departmentId", code="DEPARTMENT_NOT_FOUND")
    if not can_manage_accounts(actor, department_id):
        raise Forbidden("只能管理本部门的账号", field="departmentId")
    errors: list[DomainError] = []
    username = username.strip()
    if not USERNAME_RE.match(username):
        message = "用户名须以小写字母开头，只含小写字母、数字和下划线，3-64位"
        errors.append(InvalidInput(message, field="username", code="INVALID_USERNAME"))
    elif await User.filter(username=username).exists():
        errors.append(Duplicate(f"用户名 {username} 已存在", field="username", code="DUPLICATE_USERNAME"))
    try:
        check_password_strength(password)
    except DomainError as e:
        errors.append(e)
    try:
        display_name = check_length(display_name, "displayName", 64)
    except DomainError as e:
        errors.append(e)
    if not roles:
        errors.append(InvalidInput("至少指定一个角色", field="roles", code="REQUIRED"))
    if Role.ADMIN in roles and not actor.is_admin:
        errors.append(Forbidden("只有平台管理员可以授予管理员角色", field="roles"))
    if Role.AUDITOR in roles and not actor.is_admin:  # an auditor reads every department's trail
        errors.append(Forbidden("只有平台管理员可以授予审计员角色", field="roles"))
    raise_all(errors)
    return await User.create(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name,
        department_id=department_id,
        roles=sorted({r.value for r in roles}),
    )


async def set_user_active(actor: User, user_id: int, *, active: bool) -> User:
    """Disable or re-enable an account; disabling revokes every token at once."""
    user = await User.get_or_none(id=user_id)
    if user is None or not (actor.is_admin or actor.department_id == user.department_id):
        raise NotFound("用户不存在", field="id", code="USER_NOT_FOUND")
    if not can_manage_user(actor, user):
        raise Forbidden("只能管理本部门的账号（管理员账号只能由管理员管理）", field="id")
    if user.id == actor.id and not active:
        raise InvalidInput("不能停用自己的账号", field="id", code="CANNOT_DISABLE_SELF")
    user.is_active = active
    user.token_version += 1
    await user.save(update_fields=["is_active", "token_version", "updated_at"])
    await access_changed(user)
    return user


async def appoint_liaison(
    actor: User, *, department_id: int, user_id: int, title: str, phone: str, now: datetime
) -> LiaisonAppointment:
    """Art. 27: appoint a liaison officer of the department; the user must belong to it."""
    if not await Department.filter(id=department_id).exists():
        raise NotFound("部门不存在", field="departmentId", code="DEPARTMENT_NOT_FOUND")
    if not can_manage_accounts(actor, department_id):
        raise Forbidden("只能任命本部门的联络员", field="departmentId")
    user = await User.get_or_none(id=user_id)
    if user is None or not (actor.is_admin or user.department_id == actor.department_id):
        raise NotFound("用户不存在", field="userId", code="USER_NOT_FOUND")
    if user.department_id != department_id:
        raise InvalidInput("联络员必须是本部门的用户", field="userId", code="USER_NOT_IN_DEPARTMENT")
    if not user.is_active:
        raise InvalidInput("该账号已停用", field="userId", code="USER_DISABLED")
    errors: list[DomainError] = []
    try:
        title = check_length(title, "title", 64)
    except DomainError as e:
        errors.append(e)
    phone = phone.strip()
    if not PHONE_RE.match(phone):
        errors.append(InvalidInput("电话号码格式不正确", field="phone", code="INVALID_PHONE"))
    if await LiaisonAppointment.filter(user_id=user_id, ended_at=None).exists():
        errors.append(Duplicate("该用户已是在任联络员", field="userId", code="ALREADY_LIAISON"))
    raise_all(errors)
    if Role.LIAISON.value not in user.roles:
        user.roles = sorted({*user.roles, Role.LIAISON.value})
        await user.save(update_fields=["roles", "updated_at"])
    return await LiaisonAppointment.create(
        department_id=department_id,
        user_id=user_id,
        title=title,
        phone=phone,
        started_at=now,
        appointed_by_id=actor.id or None,
    )


async def end_liaison(actor: User, appointment_id: int, *, now: datetime) -> LiaisonAppointment:
    """Art. 28: a liaison officer's term ends; the history keeps who served until when."""
    term = await LiaisonAppointment.get_or_none(id=appointment_id)
    if term is None or not (actor.is_admin or term.department_id == actor.department_id):
        raise NotFound("联络员任职记录不存在", field="id", code="LIAISON_NOT_FOUND")
    if not can_manage_accounts(actor, term.department_id):
        raise Forbidden("只能管理本部门的联络员", field="id")
    if term.ended_at is not None:
        raise InvalidInput("该任职已结束", field="id", code="LIAISON_ALREADY_ENDED")
    term.ended_at = now
    await term.save(update_fields=["ended_at"])
    await _drop_liaison_role(term.user_id)
    return term


async def _drop_liaison_role(user_id: int) -> None:
    """Whoever no longer serves as liaison officer stops managing accounts; their old tokens stop too."""
    user = await User.get(id=user_id)
    if Role.LIAISON.value in user.roles:
        user.roles = [r for r in user.roles if r != Role.LIAISON.value]
        user.token_version += 1
        await user.save(update_fields=["roles", "token_version", "updated_at"])
        await access_changed(user)


async def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (the caller does not learn which part was wrong)."""
    username = username.strip()
    # A name no account can have is not looked up: NUL or a surrogate would make the query itself fail.
    user = await User.get_or_none(username=username) if USERNAME_RE.match(username) else None
    if user is None:
        verify_password(_DUMMY_HASH, password)  # equal time whether or not the account exists
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        return None
    return user


_DUMMY_HASH = _hasher.hash("not-a-real-password")


async def access_changed(user: User) -> None:
    """Rule 5: a user whose access changed has their open subscriptions ended at once."""
    await record_event(
        EventKind.ACCESS_CHANGED,
        subject_type="User",
        subject_id=user.id,
        departments=[user.department_id],
        payload={"userId": user.id},
    )
