"""The checks: each a pure function of a drill's record — journal and ledger — returning a
verdict (`passed | failed | unknown`). Nothing here touches a server: what the servers held
is put in the record by `drills.observe` first.

- `judge`: every check over one run directory (`judge_record`), the names result.json uses;
- `history`: the record as one typed history the checks query;
- one module per check: `rto`, `rpo`, `sequence_continuity`, `filters` (filter_tables),
  `data_consistency`, `split_brain`; `verdict` for what they return;
- `rejudge`: `drills judge RUN_DIR`.
"""
