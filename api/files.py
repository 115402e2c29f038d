"""GET /files/{id}: an evidence file, for whoever may see the record it is attached to.

The same bearer token as /graphql; an invisible or unknown file is 404 (never 403, so ids cannot be
probed); every download is recorded in the audit trail.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from api.graphql.base import from_global_id
from api.http import audit_read, error_response, request_user
from api.services import Services
from models.errors import DomainError
from models.file_access import can_see_file
from models.files import EvidenceFile, stored_path


async def download_file(request: Request) -> Response:
    services: Services = request.app.state.services
    user = await request_user(request)
    if user is None:
        return error_response(401, "UNAUTHENTICATED", "请先登录")
    try:
        _, pk = from_global_id(request.path_params["id"], "EvidenceFile")
    except DomainError:
        return error_response(404, "FILE_NOT_FOUND", "文件不存在")
    row = await EvidenceFile.get_or_none(id=pk)
    if row is None or not await can_see_file(user, row):
        return error_response(404, "FILE_NOT_FOUND", "文件不存在")
    path = stored_path(services.settings.files_dir, row.storage_key)
    if not path.is_file():
        return error_response(410, "FILE_CONTENT_MISSING", "文件内容缺失，请联系管理员")
    await audit_read(request, user, "download_file", "EvidenceFile", row.id)
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=row.name,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
