"""Account rules: password strength, usernames, text fields, who manages whose account (Art. 27–28)."""

from __future__ import annotations

from datetime import datetime

import pytest

from models import account
from models.account import (
    CODE_RE,
    PHONE_RE,
    REGION_RE,
    USERNAME_RE,
    Department,
    LiaisonAppointment,
    User,
    can_manage_accounts,
    can_manage_user,
    check_length,
    check_password_strength,
    hash_password,
    verify_password,
)
from models.calendar import SHANGHAI
from models.enums import AdminLevel, DepartmentKind, Role
from models.errors import DomainError, Forbidden, InvalidInput
from tests import factories as f

NOW = datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "password",
    [
        "Abcdefgh12",  # exactly 10, upper + lower + digit
        "abcdefgh1!",  # lower + digit + symbol
        "ABCDEFGH1!",  # upper + digit + symbol
        "Abcdefghi!",  # upper + lower + symbol
        "密码Abcdefg12",  # upper + lower + digit; the CJK characters count as symbols
        "A" * 60 + "a" * 60 + "12345678",  # exactly 128
    ],
)
def test_password_of_ten_or_more_characters_from_three_classes_is_strong(password: str) -> None:
    check_password_strength(password)


@pytest.mark.parametrize(
    "password",
    [
        "",
        "Abcdef12!",  # 9 characters
        "abcdefghijkl",  # one class
        "abcdefghij12",  # two classes
        "ABCDEFGHIJ!!",  # two classes
        "A" * 61 + "a" * 60 + "12345678",  # 129 characters
        "x" * 10_000,
    ],
)
def test_short_long_or_two_class_password_is_weak(password: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_strength(password)
    assert (caught.value.code, caught.value.field) == ("WEAK_PASSWORD", "password")


@pytest.mark.parametrize("password", ["Strong-Pass-1\x00", "Strong-Pass-1\ud800"])
def test_password_with_control_character_or_lone_surrogate_is_refused(password: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_strength(password, field="newPassword")
    assert (caught.value.code, caught.value.field) == ("INVALID_CHARACTERS", "newPassword")


def test_password_hash_is_argon2_and_verifies_only_the_same_password() -> None:
    hashed = hash_password("Strong-Pass-1")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "Strong-Pass-1") is True
    assert verify_password(hashed, "Strong-Pass-2") is False
    assert verify_password("not-a-hash", "Strong-Pass-1") is False
    assert verify_password(hashed, "Strong-Pass-1\ud800") is False  # unencodable: a wrong password, not a crash


@pytest.mark.parametrize("username", ["abc", "zhang_san", "jn_scjg_liaison", "a" + "b" * 63, "u2026"])
def test_username_is_lower_case_letters_digits_underscore_starting_with_a_letter(username: str) -> None:
    assert USERNAME_RE.match(username)


@pytest.mark.parametrize(
    "username",
    [
        "ab",
        "a" * 65,
        "Zhang",
        "1abc",
        "_abc",
        "zhang-san",
        "zhang san",
        "张三",
        "abc\n",
        "\uff41\uff42\uff43",
        "abc\x00",
    ],
)
def test_username_outside_the_rule_is_refused(username: str) -> None:
    assert USERNAME_RE.match(username) is None


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (REGION_RE, "370800", ["370800\n", "\uff13\uff17\uff10\uff18\uff10\uff10", "070800", "37080", "3708001"]),
        (PHONE_RE, "13853712345", ["13853712345\n", "1\uff13853712345", "1385371234", "12345"]),
        (PHONE_RE, "0537-2345678", ["0537-2345678\n", "0537--2345678"]),
        (CODE_RE, "JN-SCJG_2.0", ["JN SCJG", "-JN", "JN\n", "\uff2a", "x" * 65]),
    ],
)
def test_codes_are_ascii_and_anchored_at_the_very_end(pattern: object, good: str, bad: list[str]) -> None:
    assert pattern.match(good)  # type: ignore[attr-defined]
    assert [b for b in bad if pattern.match(b)] == []  # type: ignore[attr-defined]


def test_check_length_trims_and_returns_the_value() -> None:
    assert check_length("  市场监督管理局 ", "name", 128) == "市场监督管理局"
    assert check_length("", "address", 10, required=False) == ""
    assert check_length("第一行\n\t第二行", "content", 100) == "第一行\n\t第二行"  # text may have lines


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("   ", "REQUIRED"),
        ("x" * 11, "TOO_LONG"),
        ("x" * 10_000, "TOO_LONG"),
        ("a\x00b", "INVALID_CHARACTERS"),
        ("a\ud800", "INVALID_CHARACTERS"),
        ("a\x1bb", "INVALID_CHARACTERS"),
    ],
)
def test_check_length_refuses_empty_oversized_and_unstorable_text(value: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_length(value, "displayName", 10)
    assert (caught.value.code, caught.value.field) == (code, "displayName")


def test_storable_replaces_what_a_database_cannot_keep() -> None:
    assert account.storable("bo\x00ss\ud800") == "bo\ufffdss\ufffd"
    assert account.storable("张三\n") == "张三\n"


# --- who manages whose account ------------------------------------------------------------------


@pytest.fixture
async def people(db: str) -> dict[str, User]:
    a = await f.department()
    b = await f.department()
    return {
        "admin": await f.user(b, Role.ADMIN),
        "liaison_a": await f.user(a, Role.LIAISON, Role.OFFICER),
        "officer_a": await f.user(a, Role.OFFICER),
        "leader_a": await f.user(a, Role.LEADER),
        "liaison_b": await f.user(b, Role.LIAISON),
        "admin_in_a": await f.user(a, Role.ADMIN),
    }


@pytest.mark.parametrize(
    ("actor", "manages_a", "manages_b"),
    [
        ("admin", True, True),
        ("liaison_a", True, False),
        ("officer_a", False, False),
        ("leader_a", False, False),
        ("liaison_b", False, True),
    ],
)
async def test_admins_manage_every_department_liaisons_only_their_own(
    people: dict[str, User], actor: str, manages_a: bool, manages_b: bool
) -> None:
    a_id = people["officer_a"].department_id
    b_id = people["liaison_b"].department_id
    assert (can_manage_accounts(people[actor], a_id), can_manage_accounts(people[actor], b_id)) == (
        manages_a,
        manages_b,
    )


async def test_only_an_admin_manages_an_admin_account_even_in_the_liaisons_department(
    people: dict[str, User],
) -> None:
    assert can_manage_user(people["liaison_a"], people["officer_a"]) is True
    assert can_manage_user(people["liaison_a"], people["admin_in_a"]) is False
    assert can_manage_user(people["admin"], people["admin_in_a"]) is True


async def test_liaison_cannot_disable_an_admin_of_their_department(people: dict[str, User]) -> None:
    with pytest.raises(Forbidden) as caught:
        await account.set_user_active(people["liaison_a"], people["admin_in_a"].id, active=False)
    assert caught.value.field == "id"
    assert (await User.get(id=people["admin_in_a"].id)).is_active is True


async def test_disabling_revokes_tokens_and_reenabling_does_not_bring_them_back(people: dict[str, User]) -> None:
    officer = people["officer_a"]
    assert officer.token_version == 1
    await account.set_user_active(people["liaison_a"], officer.id, active=False)
    await account.set_user_active(people["liaison_a"], officer.id, active=True)
    row = await User.get(id=officer.id)
    assert (row.is_active, row.token_version) == (True, 3)


async def test_ending_a_term_takes_the_liaison_role_away_and_revokes_tokens(db: str) -> None:
    dept = await f.department()
    admin = await f.user(await f.department(), Role.ADMIN)
    officer = await f.user(dept, Role.OFFICER)
    term = await account.appoint_liaison(
        admin, department_id=dept.id, user_id=officer.id, title="综合科科长", phone="13853712345", now=NOW
    )
    assert (await User.get(id=officer.id)).roles == ["LIAISON", "OFFICER"]
    await account.end_liaison(admin, term.id, now=NOW)
    row = await User.get(id=officer.id)
    assert (row.roles, row.token_version) == (["OFFICER"], 2)
    assert can_manage_accounts(row, dept.id) is False
    assert await LiaisonAppointment.filter(department_id=dept.id).values_list("ended_at", flat=True) == [NOW]


async def test_create_department_reports_every_bad_field_at_once_and_writes_nothing(db: str) -> None:
    await Department.create(
        code="JN-SCJG",
        name="市场监督管理局",
        kind=DepartmentKind.SUPERVISION,
        level=AdminLevel.CITY,
        region_code="370800",
    )
    with pytest.raises(DomainError) as caught:
        await account.create_department(
            code="JN-SCJG",
            name="x" * 129,
            kind=DepartmentKind.SUPERVISION,
            level=AdminLevel.CITY,
            region_code="370800\n",
            parent_id=424242,
        )
    found = [(e.code, e.field) for e in caught.value.errors]  # type: ignore[attr-defined]
    assert found == [
        ("DUPLICATE_CODE", "code"),
        ("TOO_LONG", "name"),
        ("INVALID_REGION_CODE", "regionCode"),
        ("DEPARTMENT_NOT_FOUND", "parentId"),
    ]
    assert await Department.all().count() == 1


async def test_login_with_a_name_no_account_can_have_finds_nobody(db: str) -> None:
    await f.user(await f.department(), username="boss")
    assert await account.authenticate("boss", f.PASSWORD) is not None
    assert await account.authenticate(" boss ", f.PASSWORD) is not None
    for name in ("bo\x00ss", "bo\ud800ss", "x" * 10_000, "BOSS"):
        assert await account.authenticate(name, f.PASSWORD) is None
    assert await account.authenticate("boss", "x\ud800") is None
