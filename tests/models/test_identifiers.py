"""Citizen ID (GB 11643-1999) and USCC (GB 32100-2015) checksums, masks and generators."""

from __future__ import annotations

import pytest

from models.identifiers import (
    citizen_id_check_char,
    citizen_id_is_valid,
    credit_code_check_char,
    credit_code_is_valid,
    make_citizen_id,
    make_credit_code,
    mask_citizen_id,
    mask_phone,
    normalize_citizen_id,
    normalize_credit_code,
)


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",  # the example printed in GB 11643-1999
        "370802199003071236",
        "370811200002290017",  # 29 Feb of a leap year
        "370883198512319985",
        "370826190001010018",  # the earliest accepted birth date
    ],
)
def test_citizen_id_valid(value: str) -> None:
    assert citizen_id_is_valid(value) is True


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("370802199003071234", "bad check character (should be 6)"),
        ("11010519491231002Y", "check character not a digit or X"),
        ("11010519491231002x", "lower-case x before normalisation"),
        (" 11010519491231002X", "surrounding space before normalisation"),
        # From here to the region cases the check character is right, so only
        # the rule named fails.
        ("440524188001010014", "born 1880, before 1900"),
        ("370802199002301239", "30 February"),
        ("370802199013011237", "month 13"),
        ("370802199001001234", "day 00"),
        ("370811190002290010", "29 February 1900 (not a leap year)"),
        ("070802199003071235", "region code starting 0"),
        ("970802199003071238", "region code starting 9"),
        ("37080219900307123", "17 characters"),
        ("3708021990030712360", "19 characters"),
        ("370802900307123", "old 15-digit form"),
        ("", "empty"),
        ("3708021990030712A6", "letter in the body"),
        ("X70802199003071236", "letter in the region code"),
        ("３70802199003071236", "full-width digit"),  # noqa: RUF001 (a full-width digit must be rejected)
    ],
)
def test_citizen_id_invalid(value: str, why: str) -> None:
    assert citizen_id_is_valid(value) is False, why


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("11010519491231002x", "11010519491231002X"),
        ("  370802199003071236\n", "370802199003071236"),
        ("11010519491231002X", "11010519491231002X"),
    ],
)
def test_normalize_citizen_id(raw: str, normalised: str) -> None:
    assert normalize_citizen_id(raw) == normalised
    assert citizen_id_is_valid(normalize_citizen_id(raw)) is True


@pytest.mark.parametrize(
    ("body17", "check"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("37080219900307123", "6"),
        ("37081120000229001", "7"),
        ("00000000000000000", "1"),
    ],
)
def test_citizen_id_check_char(body17: str, check: str) -> None:
    assert citizen_id_check_char(body17) == check


@pytest.mark.parametrize("body17", ["1101051949123100", "110105194912310021", "1101051949123100X", ""])
def test_citizen_id_check_char_rejects_bad_body(body17: str) -> None:
    with pytest.raises(ValueError):
        citizen_id_check_char(body17)


@pytest.mark.parametrize(
    ("region", "birth", "seq", "expected"),
    [
        ("370802", "19900307", 123, "370802199003071236"),
        ("370811", "20000229", 1, "370811200002290017"),
        ("370883", "19851231", 998, "370883198512319985"),
        ("110105", "19491231", 2, "11010519491231002X"),
    ],
)
def test_make_citizen_id(region: str, birth: str, seq: int, expected: str) -> None:
    made = make_citizen_id(region, birth, seq)
    assert made == expected
    assert citizen_id_is_valid(made) is True


@pytest.mark.parametrize(
    ("region", "birth", "seq"),
    [
        ("37080", "219900307", 123),  # misaligned region and birth
        ("070802", "19900307", 123),
        ("370802", "19900230", 123),
        ("370802", "18991231", 123),
        ("370802", "1990-3-7", 123),
        ("370802", "19900307", -1),
        ("370802", "19900307", 1000),
    ],
)
def test_make_citizen_id_rejects_bad_parts(region: str, birth: str, seq: int) -> None:
    with pytest.raises(ValueError):
        make_citizen_id(region, birth, seq)


def test_make_citizen_id_round_trip_over_all_sequences() -> None:
    made = {make_citizen_id("370800", "19800101", seq) for seq in range(1000)}
    assert len(made) == 1000
    assert all(citizen_id_is_valid(value) for value in made)


@pytest.mark.parametrize(
    "value",
    [
        "91350100M000100Y43",  # the example widely cited for GB 32100-2015
        "91370800MA3C12345D",
        "123708000041234562",
        "000000000000000000",
        "Y1370800MA3C1234Y5",
    ],
)
def test_credit_code_valid(value: str) -> None:
    assert credit_code_is_valid(value) is True


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("91350100M000100Y44", "bad check character (should be 3)"),
        ("91350100M000100Y4", "17 characters"),
        ("91350100M000100Y433", "19 characters"),
        ("", "empty"),
        ("91350100m000100Y43", "lower case before normalisation"),
        ("91350100I000100Y43", "forbidden I"),
        ("91350100O000100Y43", "forbidden O"),
        ("91350100Z000100Y43", "forbidden Z"),
        ("91350100S000100Y43", "forbidden S"),
        ("91350100V000100Y43", "forbidden V"),
        ("91350100M000100Y4I", "forbidden letter as check character"),
        ("91350100M000100Y4-", "punctuation"),
    ],
)
def test_credit_code_invalid(value: str, why: str) -> None:
    assert credit_code_is_valid(value) is False, why


def test_normalize_credit_code() -> None:
    assert normalize_credit_code(" 91350100m000100y43\t") == "91350100M000100Y43"
    assert credit_code_is_valid(normalize_credit_code(" 91350100m000100y43\t")) is True


@pytest.mark.parametrize(
    ("body17", "check"),
    [
        ("91350100M000100Y4", "3"),
        ("91370800MA3C12345", "D"),
        ("12370800004123456", "2"),
        ("00000000000000000", "0"),
    ],
)
def test_credit_code_check_char(body17: str, check: str) -> None:
    assert credit_code_check_char(body17) == check
    assert make_credit_code(body17) == body17 + check


@pytest.mark.parametrize(
    "body17",
    [
        "91350100M000100Y",
        "91350100M000100Y43",
        "91350100I000100Y4",
        "9135010om000100Y4",
    ],
)
def test_credit_code_check_char_rejects_bad_body(body17: str) -> None:
    with pytest.raises(ValueError):
        credit_code_check_char(body17)
    with pytest.raises(ValueError):
        make_credit_code(body17)


def test_make_credit_code_round_trip_and_single_substitution_detected() -> None:
    made = make_credit_code("91370800MA3C12345")
    assert credit_code_is_valid(made) is True
    # MOD 31 with these weights catches every single-character substitution.
    for position in range(18):
        for char in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            if char != made[position]:
                altered = made[:position] + char + made[position + 1 :]
                assert credit_code_is_valid(altered) is False, altered


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("370802199003071236", "370802********1236"),
        ("11010519491231002X", "110105********002X"),
        ("370802900307123", "370802********7123"),  # old 15-digit form
        ("37080219900", "***********"),  # too short to show any part safely
        ("123456789", "*********"),
        ("", ""),
    ],
)
def test_mask_citizen_id(value: str, masked: str) -> None:
    assert mask_citizen_id(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("053712345678", "053*****5678"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("110", "***"),
        ("", ""),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked
