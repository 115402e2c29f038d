"""models/crypto.py and the data keys in the settings: sealing, opening, lookup hashes, keyrings."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from models import crypto
from models.settings import SettingsError, add_data_key, load_settings
from tests.conftest import DATA_KEY
from tests.security.conftest import NEW_KEY

ID = "370811198602140019"


def test_seal_opens_back_and_never_repeats_or_shows_the_value() -> None:
    one, two = crypto.seal(ID, context="decision.id_number"), crypto.seal(ID, context="decision.id_number")
    assert one != two  # a fresh nonce each time: equal values do not look equal at rest
    assert ID not in one and one.startswith(f"sg1:{crypto.keyring().current.kid}:")
    assert crypto.open_sealed(one, context="decision.id_number") == ID
    assert crypto.open_sealed(two, context="decision.id_number") == ID


def test_a_sealed_value_does_not_open_in_another_column() -> None:
    token = crypto.seal("13853712345", context="decision.phone")
    with pytest.raises(crypto.SealBroken):
        crypto.open_sealed(token, context="decision.id_number")


@pytest.mark.parametrize("position", [0, 5, 20, -10, -2])
def test_an_altered_ciphertext_is_refused(position: int) -> None:
    """Nonce, ciphertext or tag: any changed byte fails authentication (the last character may be padding)."""
    token = crypto.seal(ID, context="c")
    head, body = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    altered = head + ":" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(crypto.SealBroken):
        crypto.open_sealed(altered, context="c")


def test_an_unknown_key_id_and_a_plain_value_are_refused() -> None:
    token = crypto.seal(ID)
    with pytest.raises(crypto.SealBroken, match="未知的数据密钥"):
        crypto.open_sealed("sg1:00000000:" + token.split(":", 2)[2])
    with pytest.raises(crypto.SealBroken):
        crypto.open_sealed(ID)


def test_old_keys_open_and_match_until_dropped(keys: Any) -> None:
    old_token = crypto.seal(ID, context="c")
    old_hash = crypto.lookup_hash(ID)
    ring = crypto.configure([NEW_KEY, DATA_KEY])
    assert crypto.open_sealed(old_token, context="c") == ID
    new_token = crypto.seal(ID, context="c")
    assert crypto.key_id_of(new_token) == ring.current.kid != crypto.key_id_of(old_token)
    assert crypto.lookup_hash(ID) != old_hash
    assert crypto.lookup_hashes(ID) == [crypto.lookup_hash(ID), old_hash]
    crypto.configure([NEW_KEY])
    assert crypto.open_sealed(new_token, context="c") == ID
    with pytest.raises(crypto.SealBroken):
        crypto.open_sealed(old_token, context="c")


def test_lookup_hash_is_keyed_and_not_the_plain_sha256() -> None:
    import hashlib

    digest = crypto.lookup_hash(ID)
    assert digest == crypto.lookup_hash(ID) != crypto.lookup_hash("370811198602140027")
    assert digest != hashlib.sha256(ID.encode()).hexdigest()


def test_nothing_opens_before_the_keyring_is_configured(keys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "_ring", None)
    with pytest.raises(crypto.NotConfigured):
        crypto.seal(ID)


def _env(var: Path, **more: str) -> dict[str, str]:
    return {"SHENGUAN_VAR_DIR": str(var), **more}


def test_data_key_from_the_environment_with_old_keys(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        SHENGUAN_DATA_KEY=base64.b64encode(NEW_KEY).decode(),
        SHENGUAN_DATA_KEYS_OLD=base64.urlsafe_b64encode(DATA_KEY).decode(),
    )
    assert load_settings(env).data_keys == (NEW_KEY, DATA_KEY)
    assert not (tmp_path / "data-keys").exists()
    assert "data_keys" not in repr(load_settings(env))  # keys never reach a log line


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SHENGUAN_DATA_KEY", "not base64!", "SHENGUAN_DATA_KEY is not base64"),
        ("SHENGUAN_DATA_KEY", base64.b64encode(b"short").decode(), "SHENGUAN_DATA_KEY must decode to 32 bytes (got 5)"),
        ("SHENGUAN_DATA_KEYS_OLD", "abc", "SHENGUAN_DATA_KEYS_OLD[0]"),
    ],
)
def test_a_wrong_data_key_is_a_settings_error_naming_it(tmp_path: Path, name: str, value: str, message: str) -> None:
    env = _env(tmp_path, SHENGUAN_DATA_KEY=base64.b64encode(NEW_KEY).decode())
    env[name] = value
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(env)


def test_the_embedded_keyring_is_made_once_private_and_grows_at_the_head(tmp_path: Path) -> None:
    first = load_settings(_env(tmp_path)).data_keys
    path = tmp_path / "data-keys"
    assert len(first) == 1 and len(first[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings(_env(tmp_path)).data_keys == first  # generated once, then kept
    new = add_data_key(tmp_path)
    assert load_settings(_env(tmp_path)).data_keys == (new, first[0])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
