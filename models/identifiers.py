"""Identifiers of counterparties: citizen ID numbers and unified social credit codes."""

from __future__ import annotations

import re
from datetime import date

_CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK_CHARS = "10X98765432"
# [0-9] rather than \d: \d also admits full-width and other Unicode digits.
_CITIZEN_ID = re.compile(r"[1-8][0-9]{16}[0-9X]")
_CITIZEN_BODY = re.compile(r"[0-9]{17}")
_REGION = re.compile(r"[1-8][0-9]{5}")
_BIRTH = re.compile(r"[0-9]{8}")
_FIRST_BIRTH_YEAR = 1900

_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUES = {char: value for value, char in enumerate(_CREDIT_ALPHABET)}
_CREDIT_CODE = re.compile(f"[{_CREDIT_ALPHABET}]{{18}}")
_CREDIT_BODY = re.compile(f"[{_CREDIT_ALPHABET}]{{17}}")

_MASKED_ID_MIDDLE = "********"
# Below the length of the old 15-digit ID, showing 6 + 4 characters would
# reveal most or all of the value.
_MIN_PARTLY_SHOWN_ID = 15
_MIN_PARTLY_SHOWN_PHONE = 8


def normalize_citizen_id(value: str) -> str:
    """GB 11643-1999: the canonical form is 18 characters with an upper-case check X."""
    return value.strip().upper()


def citizen_id_check_char(body17: str) -> str:
    """GB 11643-1999: ISO 7064 MOD 11-2 check character over the first 17 digits."""
    if not _CITIZEN_BODY.fullmatch(body17):
        raise ValueError(f"expected 17 digits, got {body17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(body17, _CITIZEN_WEIGHTS, strict=True))
    return _CITIZEN_CHECK_CHARS[total % 11]


def citizen_id_is_valid(value: str) -> bool:
    """GB 11643-1999: region code, real birth date, sequence and check character (normalised input)."""
    if not _CITIZEN_ID.fullmatch(value):
        return False
    return _is_birth_date(value[6:14]) and citizen_id_check_char(value[:17]) == value[17]


def make_citizen_id(region: str, birth: str, seq: int) -> str:
    """GB 11643-1999: build a valid number from region code, YYYYMMDD birth date and sequence."""
    if not _REGION.fullmatch(region):
        raise ValueError(f"region must be 6 digits starting 1-8, got {region!r}")
    if not (_BIRTH.fullmatch(birth) and _is_birth_date(birth)):
        raise ValueError(f"birth must be a YYYYMMDD date from {_FIRST_BIRTH_YEAR}, got {birth!r}")
    if not 0 <= seq <= 999:
        raise ValueError(f"seq must be 0..999, got {seq}")
    body = f"{region}{birth}{seq:03d}"
    return body + citizen_id_check_char(body)


def normalize_credit_code(value: str) -> str:
    """GB 32100-2015: the canonical form is 18 upper-case characters."""
    return value.strip().upper()


def credit_code_check_char(body17: str) -> str:
    """GB 32100-2015: MOD 31 check character over the first 17 characters."""
    if not _CREDIT_BODY.fullmatch(body17):
        raise ValueError(f"expected 17 characters of {_CREDIT_ALPHABET}, got {body17!r}")
    total = sum(_CREDIT_VALUES[char] * weight for char, weight in zip(body17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_is_valid(value: str) -> bool:
    """GB 32100-2015: 18 characters without I, O, Z, S, V and a matching check character (normalised input)."""
    if not _CREDIT_CODE.fullmatch(value):
        return False
    return credit_code_check_char(value[:17]) == value[17]


def make_credit_code(body17: str) -> str:
    """GB 32100-2015: append the check character to a 17-character body."""
    return body17 + credit_code_check_char(body17)


def mask_citizen_id(value: str) -> str:
    """Personal data: show only region code and last four, e.g. 370802********1234."""
    if len(value) < _MIN_PARTLY_SHOWN_ID:
        return "*" * len(value)
    return value[:6] + _MASKED_ID_MIDDLE + value[-4:]


def mask_phone(value: str) -> str:
    """Personal data: show only the first three and last four digits, e.g. 138****5678."""
    if len(value) < _MIN_PARTLY_SHOWN_PHONE:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def _is_birth_date(yyyymmdd: str) -> bool:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    if year < _FIRST_BIRTH_YEAR:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
