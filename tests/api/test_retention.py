"""Event retention: old events go in small batches with their recipients, nothing else goes, and a
subscriber resuming from a pruned cursor is told to resync while one resuming after it misses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

from models.audit import AuditRecord
from models.calendar import SHANGHAI
from models.decision import Decision, DecisionPush
from models.event import Event, EventRecipient, first_retained_sequence, last_sequence
from models.retention import prune_events
from models.settings import Settings
from tests import factories as f
from tests.api.test_subscriptions import PUSHED, commit, results, subscription, world
from tests.conftest import ROOT
from workers.settings import CRON_JOBS


async def age_events(days: int) -> None:
    """Make every event stored so far `days` old."""
    await Event.all().update(created_at=datetime.now(SHANGHAI) - timedelta(days=days))


async def test_old_events_go_in_batches_with_their_recipients_and_other_records_stay(services: Any) -> None:
    w = await world()
    now = datetime.now(SHANGHAI)
    for _ in range(5):
        await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    await age_events(91)
    old_ids = set(await Event.all().values_list("id", flat=True))
    for _ in range(2):
        await commit(lambda: f.decision(w.issuer, w.item_b, now=now), services)
    young = await Event.exclude(id__in=old_ids).order_by("seq").values_list("seq", flat=True)
    kept_records = (await Decision.all().count(), await DecisionPush.all().count(), await AuditRecord.all().count())
    batches: list[int] = []

    report = await prune_events(now, 90, batch=2, progress=batches.append)

    assert report.events == len(old_ids) == 5
    assert batches == [2, 2, 1]
    assert report.upto_sequence == young[0] - 1
    assert await Event.filter(id__in=old_ids).count() == 0
    assert await EventRecipient.filter(event_id__in=old_ids).count() == 0
    assert report.recipients == 5
    assert await Event.all().order_by("seq").values_list("seq", flat=True) == young
    assert (await Decision.all().count(), await DecisionPush.all().count(), await AuditRecord.all().count()) == (
        kept_records
    )
    assert await first_retained_sequence() == young[0]
    assert (await prune_events(now, 90)).events == 0  # running it again changes nothing


async def test_the_newest_event_is_kept_even_when_all_are_old_so_cursors_never_restart(services: Any) -> None:
    w = await world()
    now = datetime.now(SHANGHAI)
    for _ in range(3):
        await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    await age_events(400)
    newest = await last_sequence()

    report = await prune_events(now, 90)

    assert report.events == 2
    assert await Event.all().values_list("seq", flat=True) == [newest]
    await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    assert await last_sequence() == newest + 1


async def test_an_old_event_committed_after_a_young_one_is_not_pruned_out_of_order(services: Any) -> None:
    """Pruning takes a prefix of cursors: a hole would let a resuming client skip an event silently."""
    w = await world()
    now = datetime.now(SHANGHAI)
    for _ in range(4):
        await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    seqs = await Event.all().order_by("seq").values_list("seq", flat=True)
    await age_events(100)
    await Event.filter(seq=seqs[1]).update(created_at=now)  # a young event among old ones

    report = await prune_events(now, 90)

    assert report.upto_sequence == seqs[0]
    assert await Event.all().order_by("seq").values_list("seq", flat=True) == seqs[1:]


async def test_resuming_from_a_pruned_cursor_gets_resync_required_and_after_it_misses_nothing(services: Any) -> None:
    w = await world()
    now = datetime.now(SHANGHAI)
    for _ in range(3):
        await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    await age_events(120)
    await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    first, second, third, fourth = await Event.all().order_by("seq").values_list("seq", flat=True)

    report = await prune_events(now, 90)
    assert report.upto_sequence == third

    for cursor in (0, first, second):
        stream = await subscription(services, w.supervisor_a, PUSHED, {"a": str(cursor)})
        assert await results(stream, 1) == [
            {"data": None, "errors": [("RESYNC_REQUIRED", "游标早于保留期，请重新同步")]}
        ]
    stream = await subscription(services, w.supervisor_a, PUSHED, {"a": str(third)})
    [result] = await results(stream, 1)
    assert result["errors"] == []
    assert result["data"]["decisionPushed"]["cursor"] == str(fourth)
    await stream.aclose()


def test_a_nightly_cron_job_prunes_events() -> None:
    (job,) = [j for j in CRON_JOBS if j.name == "prune_events"]
    assert job.hour == {3} and job.minute == {17}


async def test_the_prune_events_command_uses_the_retention_setting(services: Any, settings: Settings) -> None:
    w = await world()
    now = datetime.now(SHANGHAI)
    for _ in range(3):
        await commit(lambda: f.decision(w.issuer, w.item_a, now=now), services)
    await age_events(20)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SHENGUAN_VAR_DIR": str(settings.var_dir),
        "SHENGUAN_SECRET_KEY": settings.secret_key,
    }

    def prune(days: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "prune-events", "--quiet"],
            cwd=ROOT,
            env={**env, "SHENGUAN_EVENT_RETENTION_DAYS": days},
            capture_output=True,
            text=True,
            timeout=120,
        )

    kept = prune("30")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.strip() == "没有超过保留期的事件"
    assert await Event.all().count() == 3
    pruned = prune("10")
    assert pruned.returncode == 0, pruned.stderr
    assert "已清理 2 个事件" in pruned.stdout
    assert await Event.all().count() == 1
