"""Logging for operators: one line per request, operation and job, JSON or text, never a full ID or phone.

`SHENGUAN_LOG_FORMAT=json` writes one JSON object per line (containers); `text` (the default of
`make run`) is for people. Either way the masking filter runs on every record before it is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# A citizen ID (GB 11643, 18 characters) keeps its region and last four, as the API masks it.
CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
# A mainland mobile number, with or without +86 / 86, keeps its first three and last four digits.
MOBILE = re.compile(r"(?<!\d)((?:\+?86[- ]?)?1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")

# Request-scoped fields every record made while serving it carries (request id, user, operation).
request_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "shenguan_request_fields", default=None
)

# uvicorn adds an ANSI-coloured copy of its message as `color_message`: not a field worth writing.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


def mask(text: str) -> str:
    """Hide the middle of anything that looks like a citizen ID number or a mobile phone number."""
    text = CITIZEN_ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)
    return MOBILE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(v) for v in value)
    return value


class MaskingFilter(logging.Filter):
    """Masks the message, its arguments, extra fields and any traceback of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, _masked(value))
        return True


class RequestFieldsFilter(logging.Filter):
    """Adds the fields of the request being served (request id, user, department) to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (request_fields.get() or {}).items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries beyond the standard ones (an unknown user is left out, not null)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_") and v is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(extra_fields(record))
        if record.exc_text or record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable form: the usual prefix, then key=value for the record's fields."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return text
        head, sep, tail = text.partition("\n")
        return head + " " + " ".join(f"{k}={v}" for k, v in fields.items()) + sep + tail


def build_handler(log_format: str, stream: Any = None) -> logging.Handler:
    """A stream handler with the request fields, the masking filter and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestFieldsFilter())
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(log_format: str, *, level: int = logging.INFO) -> None:
    """Route every logger (uvicorn's and arq's included) through one masked handler on the root."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(build_handler(log_format))
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
