"""A user's own load generator, and no workload at all.

`workload: {kind: external, command: ..., ledger: PATH}` starts the command in the
background with the topology's endpoints in the environment (see
`Topology.endpoint_env`) plus DRILLS_LEDGER (where the harness expects the ledger) and
DRILLS_RUN_DIR, and stops it (SIGTERM to its process group, then SIGKILL) at the end. If it
writes a ledger in the documented format (drills.workload.ledger), the checks judge it like
the reference workload's; a ledger written elsewhere is validated and copied into the run
directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from drills import events
from drills.record import LEDGER_FILE
from drills.scenario.model import WorkloadSpec
from drills.topology.processes import stop_group
from drills.workload.ledger import outcome_counts, read_ledger

SOURCE = "workload"


class ExternalWorkload:
    def __init__(self, settings: WorkloadSpec, topo: Any, journal: Any, run_dir: str | Path):
        self.settings = settings
        self.topo = topo
        self.journal = journal
        self.run_dir = Path(run_dir)
        self.ledger_path = self.run_dir / LEDGER_FILE
        self.user_ledger = Path(settings.ledger) if settings.ledger else self.ledger_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None
        self._result: dict[str, int] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.topo.endpoint_env())
        env.update(DRILLS_LEDGER=str(self.user_ledger), DRILLS_RUN_DIR=str(self.run_dir))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.run_dir / "workload.log", "ab")  # noqa: SIM115 - the child writes to it
        self.journal.record(SOURCE, events.WORKLOAD_START, kind="external", workers=None, rate=None,
                            command=self.settings.command)
        self._proc = subprocess.Popen(self.settings.command, shell=True, env=env, cwd=self.run_dir,
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> dict[str, int]:
        if self._result is not None:
            return self._result
        requested = time.monotonic_ns()
        proc, self._proc = self._proc, None
        exit_status = None
        if proc is not None:
            if proc.poll() is None:
                stop_group(proc, grace=10.0)
            exit_status = proc.returncode
        if self._log is not None:
            self._log.close()
        counts = {"ok": 0, "fail": 0, "info": 0}
        ledger_found = self.user_ledger.exists()
        if ledger_found:
            records = read_ledger(self.user_ledger)
            counts = outcome_counts(records)
            if self.user_ledger.resolve() != self.ledger_path.resolve():
                shutil.copyfile(self.user_ledger, self.ledger_path)
        self.journal.record(SOURCE, events.WORKLOAD_STOP, **counts, exit_status=exit_status, ledger=ledger_found,
                            requested_mono_ns=requested)
        self._result = counts
        return counts


class NoWorkload:
    """`workload: {kind: none}`: the scenario writes by itself (sql steps) or not at all."""

    def start(self) -> None:
        pass

    def stop(self) -> dict[str, int]:
        return {"ok": 0, "fail": 0, "info": 0}
