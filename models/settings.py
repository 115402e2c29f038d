"""Settings read from the environment, validated once at start.

Every variable is documented in README.md; a wrong value stops the process with one
clear line naming it (``SettingsError``).
"""

from __future__ import annotations

import base64
import ipaddress
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
    flag_red: float = 0.80  # timeliness reports: on-time rate below this is a red flag
    flag_yellow: float = 0.95  # ... below this a yellow one
    max_file_bytes: int = 20 * 1024 * 1024

    @property
    def files_dir(self) -> Path:
        """Evidence files, content-addressed, never deleted."""
        return self.var_dir / "files"

    metrics_token: str | None = None
    metrics_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    log_format: str = "text"
    event_retention_days: int = 90
    worker_metrics_port: int = 0
    # PIPL keyring for personal data at rest: the current key first, then older ones still opening
    # rows a rotation has not reached (models/crypto.py). Empty: the caller configures crypto itself.
    data_keys: tuple[bytes, ...] = field(default=(), repr=False)
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


DEFAULT_METRICS_NETWORKS = "127.0.0.1/32,::1/128"
LOG_FORMATS = ("text", "json")


def _metrics_networks(env: dict[str, str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The CIDR allow-list for /metrics; set to an empty value to admit only the bearer token."""
    raw = env.get("SHENGUAN_METRICS_NETWORKS")
    raw = DEFAULT_METRICS_NETWORKS if raw is None else raw
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"SHENGUAN_METRICS_NETWORKS entry {part!r} is not a CIDR network") from None
    return tuple(networks)


def _metrics_token(env: dict[str, str]) -> str | None:
    token = env.get("SHENGUAN_METRICS_TOKEN") or None
    if token is not None and len(token) < 16:
        raise SettingsError("SHENGUAN_METRICS_TOKEN must be at least 16 characters")
    return token


def _log_format(env: dict[str, str]) -> str:
    value = (env.get("SHENGUAN_LOG_FORMAT") or "text").lower()
    if value not in LOG_FORMATS:
        raise SettingsError(f"SHENGUAN_LOG_FORMAT={value!r} is not one of {', '.join(LOG_FORMATS)}")
    return value


DATA_KEY_BYTES = 32
DATA_KEYRING_FILE = "data-keys"


def _decode_data_key(name: str, text: str) -> bytes:
    text = text.strip()
    try:
        urlsafe = "-" in text or "_" in text
        raw = base64.b64decode(text, altchars=b"-_" if urlsafe else None, validate=True) if text else b""
    except ValueError:
        raise SettingsError(f"{name} is not base64") from None
    if len(raw) != DATA_KEY_BYTES:
        raise SettingsError(f"{name} must decode to {DATA_KEY_BYTES} bytes (got {len(raw)})")
    return raw


def _data_keys(env: dict[str, str], var_dir: Path) -> tuple[bytes, ...]:
    """SHENGUAN_DATA_KEY (+ SHENGUAN_DATA_KEYS_OLD, comma-separated), else the keyring file under var/.

    The file holds one base64 key a line, the current one first; it is created with one key on first use.
    """
    current = env.get("SHENGUAN_DATA_KEY")
    if current:
        old = [k for k in (env.get("SHENGUAN_DATA_KEYS_OLD") or "").replace(",", " ").split() if k]
        return (
            _decode_data_key("SHENGUAN_DATA_KEY", current),
            *(_decode_data_key(f"SHENGUAN_DATA_KEYS_OLD[{i}]", k) for i, k in enumerate(old)),
        )
    path = var_dir / DATA_KEYRING_FILE
    if not path.exists():
        _create_keyring(path)
    lines = [line for line in path.read_text().split() if line]
    if not lines:
        raise SettingsError(f"{path} holds no key")
    return tuple(_decode_data_key(f"{path}:{n}", line) for n, line in enumerate(lines, start=1))


def _create_keyring(path: Path) -> None:
    """The first key, written whole before it appears: two processes starting at once share one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(base64.b64encode(secrets.token_bytes(DATA_KEY_BYTES)).decode() + "\n")
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # fails if another process created it first; then its key is the one
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def add_data_key(var_dir: Path) -> bytes:
    """A new current key at the head of the keyring file under var/; the older keys stay after it."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / DATA_KEYRING_FILE
    key = secrets.token_bytes(DATA_KEY_BYTES)
    old = path.read_text() if path.exists() else ""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(base64.b64encode(key).decode() + "\n" + old)
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


def uses_keyring_file(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    return not env.get("SHENGUAN_DATA_KEY")


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
        **_flag_thresholds(env),
        max_file_bytes=_int_env(env, "SHENGUAN_MAX_FILE_BYTES", 20 * 1024 * 1024, 1, 1024 * 1024 * 1024),
        metrics_token=_metrics_token(env),
        metrics_networks=_metrics_networks(env),
        log_format=_log_format(env),
        event_retention_days=_int_env(env, "SHENGUAN_EVENT_RETENTION_DAYS", 90, 1, 36500),
        worker_metrics_port=_int_env(env, "SHENGUAN_WORKER_METRICS_PORT", 0, 0, 65535),
        data_keys=_data_keys(env, var_dir),
        limits=_limits(env),
    )


def _flag_thresholds(env: dict[str, str]) -> dict[str, float]:
    red = _int_env(env, "SHENGUAN_FLAG_RED_PERCENT", 80, 0, 100)
    yellow = _int_env(env, "SHENGUAN_FLAG_YELLOW_PERCENT", 95, 0, 100)
    if red > yellow:
        raise SettingsError(f"SHENGUAN_FLAG_RED_PERCENT={red} is above SHENGUAN_FLAG_YELLOW_PERCENT={yellow}")
    return {"flag_red": red / 100, "flag_yellow": yellow / 100}
