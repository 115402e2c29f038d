"""Keyrings for the personal-data tests: each test that changes the keyring gets the test key back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from models import crypto
from tests.conftest import DATA_KEY

NEW_KEY = bytes(range(100, 132))


@pytest.fixture
def keys() -> Iterator[type[crypto.Keyring]]:
    """Lets a test configure its own keyring; the suite's keyring is restored afterwards."""
    yield crypto.Keyring
    crypto.configure([DATA_KEY])
