"""Evidence files (证据材料) attached to supervision actions and formal notices.

A file is uploaded first (it then belongs to the uploader's department only) and attached to one
record when that record is created. Content is stored once per SHA-256 digest under the files
directory and never deleted. The type is decided by the content (magic numbers, and the member
names inside ZIP containers), never by the name alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.account import User
from models.errors import InvalidInput, NotFound

DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
ALLOWED_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "png": "image/png",
    "ofd": "application/ofd",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSION_ALIASES = {"jpeg": "jpg"}
ZIP_MARKERS = (("docx", "word/document.xml"), ("xlsx", "xl/workbook.xml"), ("ofd", "OFD.xml"))


class EvidenceFile(Model):
    """An uploaded evidence file. Never deleted. owner_type and owner_id are set once it is attached."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    file_type = fields.CharField(max_length=8)
    content_type = fields.CharField(max_length=100)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=80)
    department_id = fields.IntField()
    uploaded_by_id = fields.IntField()
    uploaded_at = fields.DatetimeField()
    owner_type = fields.CharField(max_length=32, null=True)
    owner_id = fields.BigIntField(null=True)

    class Meta:
        table = "evidence_file"
        indexes = (("owner_type", "owner_id"),)


def sniff(data: bytes) -> str | None:
    """The allowed type the bytes really are, or None."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            return None
        for kind, marker in ZIP_MARKERS:
            if marker in names:
                return kind
    return None


def _extension(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return EXTENSION_ALIASES.get(ext, ext)


def check_upload(name: str, data: bytes, *, limit: int) -> tuple[str, str]:
    """The cleaned name and the sniffed type; typed errors on the `file` argument otherwise."""
    clean = os.path.basename((name or "").replace("\\", "/")).strip()
    if not clean or len(clean) > 200:
        raise InvalidInput("文件名不能为空且不能超过 200 个字符", field="file", code="INVALID_FILE_NAME")
    if not data:
        raise InvalidInput("文件为空", field="file", code="FILE_EMPTY")
    if len(data) > limit:
        raise InvalidInput(f"文件超过大小上限（{limit} 字节）", field="file", code="FILE_TOO_LARGE")
    kind = sniff(data)
    if kind is None:
        allowed = "、".join(ALLOWED_TYPES)
        raise InvalidInput(f"文件类型不允许，只接受 {allowed}", field="file", code="FILE_TYPE_NOT_ALLOWED")
    if _extension(clean) != kind:
        raise InvalidInput(f"文件扩展名与内容不符（内容为 {kind}）", field="file", code="FILE_TYPE_MISMATCH")
    return clean, kind


def stored_path(root: Path, key: str) -> Path:
    return root / key


def _write_once(root: Path, digest: str, data: bytes) -> str:
    """Content-addressed: the same bytes are stored once; an existing file is never rewritten."""
    key = f"{digest[:2]}/{digest}"
    path = stored_path(root, key)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(path)
    return key


async def store_evidence(actor: User, name: str, data: bytes, *, root: Path, limit: int, now: datetime) -> EvidenceFile:
    """Check and keep an uploaded file for the actor's department (attached later to a record)."""
    clean, kind = check_upload(name, data, limit=limit)
    digest = hashlib.sha256(data).hexdigest()
    key = await asyncio.to_thread(_write_once, root, digest, data)  # up to 20 MiB: off the event loop
    return await EvidenceFile.create(
        name=clean,
        file_type=kind,
        content_type=ALLOWED_TYPES[kind],
        size=len(data),
        sha256=digest,
        storage_key=key,
        department_id=actor.department_id,
        uploaded_by_id=actor.id,
        uploaded_at=now,
    )


async def attach_evidence(actor: User, file_ids: list[int], owner_type: str, owner_id: int, *, field: str) -> None:
    """Attach the actor's department's unattached uploads to a record (each file to one record only)."""
    for index, file_id in enumerate(dict.fromkeys(file_ids)):
        attached = await EvidenceFile.filter(id=file_id, department_id=actor.department_id, owner_type=None).update(
            owner_type=owner_type, owner_id=owner_id
        )
        if not attached:
            raise NotFound(
                "证据文件不存在、不属于本部门或已附于其他记录", field=f"{field}.{index}", code="FILE_NOT_FOUND"
            )


async def files_of(owner_type: str, owner_ids: list[int]) -> dict[int, list[EvidenceFile]]:
    grouped: dict[int, list[EvidenceFile]] = {i: [] for i in owner_ids}
    for row in await EvidenceFile.filter(owner_type=owner_type, owner_id__in=owner_ids).order_by("id"):
        assert row.owner_id is not None
        grouped[int(row.owner_id)].append(row)
    return grouped


def describe(row: EvidenceFile) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "sha256": row.sha256, "size": row.size}
