"""Settings read from the environment, validated once at start.

Every variable is documented in README.md; a wrong value stops the process with one
clear line naming it (``SettingsError``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse


class SettingsError(Exception):
    """A setting has a value the platform cannot run with."""


@dataclass(frozen=True)
class Limits:
    """Abuse limits of the API (README, "Limits"); the defaults suit one city's platform."""

    max_body_bytes: int = 1024 * 1024
    max_query_cost: int = 50_000
    rate_limit_per_minute: int = 600  # 0: no rate limit
    allowed_origins: tuple[str, ...] = ()  # WebSocket origins besides the page's own; "*" for any
    cors_origins: tuple[str, ...] = ()  # empty: CORS off
    max_subscriptions_per_connection: int = 20
    max_connections_per_user: int = 10


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    redis_url: str | None
    host: str
    port: int
    token_ttl_minutes: int
    secret_key: str
    limits: Limits = field(default_factory=Limits)

    @property
    def is_embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def redis_socket(self) -> Path:
        return self.var_dir / "redis.sock"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))


def _int_env(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside {low}..{high}")
    return value


def _database_url(env: dict[str, str], var_dir: Path) -> str:
    url = env.get("DATABASE_URL") or f"sqlite://{var_dir / 'shenguan.sqlite3'}"
    scheme = urlparse(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql"}:
        raise SettingsError(f"DATABASE_URL scheme {scheme!r} is not sqlite:// or postgres://")
    if scheme == "postgresql":
        url = "postgres://" + url.split("://", 1)[1]
    return url


def _redis_url(env: dict[str, str]) -> str | None:
    url = env.get("REDIS_URL") or None
    if url is not None and urlparse(url).scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(f"REDIS_URL {url!r} is not a redis://, rediss:// or unix:// URL")
    return url


def _secret_key(env: dict[str, str], var_dir: Path) -> str:
    """The token signing key: from the environment, else generated once under var/."""
    key = env.get("SHENGUAN_SECRET_KEY")
    if key:
        if len(key) < 32:
            raise SettingsError("SHENGUAN_SECRET_KEY must be at least 32 characters")
        return key
    path = var_dir / "secret.key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _origins(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of origins (scheme://host[:port]) or "*"."""
    values = tuple(v.strip().rstrip("/") for v in (env.get(name) or "").split(",") if v.strip())
    for value in values:
        if value != "*" and urlparse(value).scheme not in {"http", "https"}:
            raise SettingsError(f"{name}: {value!r} is not an origin like https://example.org or *")
    return values


def _limits(env: dict[str, str]) -> Limits:
    return Limits(
        max_body_bytes=_int_env(env, "SHENGUAN_MAX_BODY_BYTES", 1024 * 1024, 1024, 256 * 1024 * 1024),
        max_query_cost=_int_env(env, "SHENGUAN_MAX_QUERY_COST", 50_000, 10, 10_000_000),
        rate_limit_per_minute=_int_env(env, "SHENGUAN_RATE_LIMIT", 600, 0, 1_000_000),
        allowed_origins=_origins(env, "SHENGUAN_ALLOWED_ORIGINS"),
        cors_origins=_origins(env, "SHENGUAN_CORS_ORIGINS"),
        max_subscriptions_per_connection=_int_env(env, "SHENGUAN_MAX_SUBSCRIPTIONS_PER_CONNECTION", 20, 1, 10_000),
        max_connections_per_user=_int_env(env, "SHENGUAN_MAX_CONNECTIONS_PER_USER", 10, 1, 10_000),
    )


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and check every setting; raise SettingsError naming the first bad one."""
    env = dict(os.environ) if env is None else env
    var_dir = Path(env.get("SHENGUAN_VAR_DIR") or "var").resolve()
    return Settings(
        var_dir=var_dir,
        database_url=_database_url(env, var_dir),
        redis_url=_redis_url(env),
        host=env.get("HOST") or "127.0.0.1",
        port=_int_env(env, "PORT", 8000, 1, 65535),
        token_ttl_minutes=_int_env(env, "SHENGUAN_TOKEN_TTL_MINUTES", 480, 1, 60 * 24 * 30),
        secret_key=_secret_key(env, var_dir),
        limits=_limits(env),
    )
