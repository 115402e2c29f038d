"""Evidence files: type decided by content, size limit, content-addressed storage, attachment once only."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from models.enums import DepartmentKind
from models.errors import InvalidInput, NotFound
from models.files import EvidenceFile, attach_evidence, check_upload, sniff, store_evidence
from tests import factories as f

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PDF, "pdf"),
        (PNG, "png"),
        (JPG, "jpg"),
        (zipped("[Content_Types].xml", "word/document.xml"), "docx"),
        (zipped("[Content_Types].xml", "xl/workbook.xml"), "xlsx"),
        (zipped("OFD.xml", "Doc_0/Document.xml"), "ofd"),
        (zipped("readme.txt"), None),
        (b"MZ\x90\x00" + b"\x00" * 60, None),  # a Windows executable
        (b"PK\x03\x04 not really a zip", None),
        (b"<html>", None),
    ],
)
def test_the_type_comes_from_the_content(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


def test_the_name_must_agree_with_the_content_and_limits_are_typed_errors() -> None:
    assert check_upload("现场检查笔录.PDF", PDF, limit=1000) == ("现场检查笔录.PDF", "pdf")
    assert check_upload("C:\\扫描\\照片.jpeg", JPG, limit=1000) == ("照片.jpeg", "jpg")
    cases = [
        ("照片.pdf", PNG, 1000, "FILE_TYPE_MISMATCH"),
        ("程序.pdf", b"MZ\x90\x00", 1000, "FILE_TYPE_NOT_ALLOWED"),
        ("空.pdf", b"", 1000, "FILE_EMPTY"),
        ("大.pdf", PDF, len(PDF) - 1, "FILE_TOO_LARGE"),
        ("", PDF, 1000, "INVALID_FILE_NAME"),
    ]
    for name, data, limit, code in cases:
        with pytest.raises(InvalidInput) as caught:
            check_upload(name, data, limit=limit)
        assert (caught.value.code, caught.value.field) == (code, "file"), name
    assert check_upload("刚好.pdf", PDF, limit=len(PDF))[1] == "pdf"


async def test_stored_once_by_digest_and_attached_once(db: str, tmp_path: Path) -> None:
    market = await f.department()
    officer = await f.user(market)
    other = await f.user(await f.department(DepartmentKind.APPROVAL))
    async with in_transaction():
        first = await store_evidence(officer, "a.pdf", PDF, root=tmp_path, limit=1000, now=f.at(2026, 10, 9))
        second = await store_evidence(officer, "b.pdf", PDF, root=tmp_path, limit=1000, now=f.at(2026, 10, 9))
    assert first.sha256 == second.sha256 == hashlib.sha256(PDF).hexdigest()
    assert first.storage_key == second.storage_key
    assert await asyncio.to_thread((tmp_path / first.storage_key).read_bytes) == PDF
    stored = await asyncio.to_thread(lambda: [p.name for p in tmp_path.rglob("*") if p.is_file()])
    assert stored == [first.sha256]
    with pytest.raises(NotFound) as caught:
        await attach_evidence(other, [first.id], "Notice", 1, field="evidenceFileIds")
    assert caught.value.field == "evidenceFileIds.0"
    await attach_evidence(officer, [first.id], "Notice", 1, field="evidenceFileIds")
    with pytest.raises(NotFound):
        await attach_evidence(officer, [second.id, first.id], "Notice", 2, field="evidenceFileIds")
    row = await EvidenceFile.get(id=first.id)
    assert (row.owner_type, row.owner_id) == ("Notice", 1)


def test_the_size_limit_setting_defaults_to_20_mib_and_a_bad_value_names_the_variable(tmp_path: Path) -> None:
    from models.settings import SettingsError, load_settings

    base = {"SHENGUAN_VAR_DIR": str(tmp_path), "SHENGUAN_SECRET_KEY": "k" * 40}
    settings = load_settings(base)
    assert (settings.max_file_bytes, settings.files_dir) == (20 * 1024 * 1024, tmp_path.resolve() / "files")
    assert load_settings({**base, "SHENGUAN_MAX_FILE_BYTES": "1024"}).max_file_bytes == 1024
    for bad in ("abc", "0"):
        with pytest.raises(SettingsError, match="SHENGUAN_MAX_FILE_BYTES"):
            load_settings({**base, "SHENGUAN_MAX_FILE_BYTES": bad})
