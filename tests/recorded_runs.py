"""A real recorded run (journal, ledger, result.json, from tests/data/runs) copied under
another run id with its RTO, status and start time changed: what the history tests record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

RUNS = Path(__file__).resolve().parent / "data" / "runs"


def recorded_run(root: Path, run_id: str, rto: float, status: str = "passed",
                 started: str = "2025-03-01T10:15:00.000Z") -> Path:
    target = root / run_id
    shutil.copytree(RUNS / "failover-passed", target)
    doc = json.loads((target / "result.json").read_text(encoding="utf-8"))
    doc.update(run_id=run_id, status=status, started_at=started)
    doc["checks"][0]["measured"] = rto
    (target / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    return target
