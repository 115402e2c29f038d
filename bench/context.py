"""What every scenario receives: the mode, where to write logs, and the services of this run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.generate import Generated


@dataclass
class Context:
    quick: bool
    work_dir: Path  # logs of the server processes, temporary files
    redis_url: str
    db_url: str | None = None  # None when PostgreSQL is unreachable
    pg_problem: str | None = None
    data: Generated | None = None
    subscriptions: int | None = None  # fan-out size when set, whatever the mode (--subscriptions)

    def pick(self, quick: float, full: float) -> float:
        return quick if self.quick else full

    def count(self, quick: int, full: int) -> int:
        return quick if self.quick else full
