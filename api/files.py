"""GET /files/{id}: an evidence file, for whoever may see the record it is attached to.

The same bearer token as /graphql; an invisible or unknown file is 404 (never 403, so ids cannot be
probed); every download is recorded in the audit trail.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from api.auth import bearer, user_for_token
from api.graphql.base import from_global_id
from api.services import Services
from models.audit import record_audit
from models.db import write_transaction
from models.errors import DomainError
from models.file_access import can_see_file
from models.files import EvidenceFile, stored_path


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


async def download_file(request: Request) -> Response:
    services: Services = request.app.state.services
    user, _ = await user_for_token(bearer(request.headers.get("authorization")), secret=services.settings.secret_key)
    if user is None:
        return _error(401, "UNAUTHENTICATED", "请先登录")
    try:
        _, pk = from_global_id(request.path_params["id"], "EvidenceFile")
    except DomainError:
        return _error(404, "FILE_NOT_FOUND", "文件不存在")
    row = await EvidenceFile.get_or_none(id=pk)
    if row is None or not await can_see_file(user, row):
        return _error(404, "FILE_NOT_FOUND", "文件不存在")
    path = stored_path(services.settings.files_dir, row.storage_key)
    if not path.is_file():
        return _error(410, "FILE_CONTENT_MISSING", "文件内容缺失，请联系管理员")
    async with write_transaction():
        await record_audit(
            "download_file",
            actor_id=user.id,
            department_id=user.department_id,
            object_type="EvidenceFile",
            object_id=row.id,
            address=request.client.host if request.client else "",
        )
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.name,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
