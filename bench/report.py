"""Results on disk: bench/results/<timestamp>.json (machine-readable) and bench/results/latest.md."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.stats import Result

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "memory_gib": _memory_gib(),
        **extra,
    }


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _cell(figures: dict[str, Any], unit: str) -> str:
    if not figures:
        return "—"
    if "headline" in figures:
        return str(figures["headline"])
    parts = []
    if "throughput" in figures:
        parts.append(f"{figures['throughput']:,} {unit}")
    if "p50" in figures:
        parts.append(f"p50 {figures['p50']} / p99 {figures['p99']} ms")
    return "; ".join(parts) or "—"


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"# Benchmark results ({doc['mode']})",
        "",
        f"{doc['date']} · {m['cpu_model']} x {m['cpu_count']} · {m['memory_gib']} GiB · Python {m['python']} · "
        f"PostgreSQL {m.get('postgres', '—')} · Redis {m.get('redis', '—')} · {doc['seconds']} s",
        "",
        "| scenario | platform | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in doc["scenarios"]:
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | **{r['status']}**: {r['note']} | | | {r['target']} | |")
            continue
        met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        ratio = "—" if r["ratio"] is None else f"{r['ratio']}"
        lines.append(
            f"| {r['name']} | {_cell(r['platform'], r['unit'])} | {_cell(r['baseline'], r['unit'])} | {ratio} | "
            f"{r['target']} | {met} |"
        )
    lines += ["", "## Notes", ""]
    for r in doc["scenarios"]:
        load = r.get("extra", {}).get("load_average_1m")
        where = f" (1-min load average {load['before']} → {load['after']})" if load else ""
        lines.append(f"- **{r['name']}** — {r['title']}{where}. {r['note']}".rstrip())
    plans = [(r["name"], r["extra"].get("plans")) for r in doc["scenarios"] if r.get("extra", {}).get("plans")]
    for name, found in plans:
        lines += ["", f"## Query plans: {name}", ""]
        for title, plan in found.items():
            lines += [f"### {title}", "", "```", plan.rstrip(), "```", ""]
    return "\n".join(lines) + "\n"


def write(results: list[Result], *, mode: str, started: datetime, seconds: float, extra: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "suite": "shenguan-bench",
        "mode": mode,
        "date": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": machine(extra),
        "scenarios": [r.as_dict() for r in results],
    }
    path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%S')}-{mode}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
    (RESULTS / "latest.md").write_text(markdown(doc))
    return path
