"""What a run directory holds: the names every part that writes or reads a run uses.

    journal.jsonl      the hash-chained timeline (drills.journal)
    ledger.jsonl       every client operation and its read-back (drills.workload.ledger)
    result.json        the verdicts and measurements every report renders; seals the other two
    scenario.yaml      the scenario as run
    filter_list.yaml   the filter list as drilled
"""

JOURNAL_FILE = "journal.jsonl"
LEDGER_FILE = "ledger.jsonl"
RESULT_FILE = "result.json"
SCENARIO_COPY = "scenario.yaml"
FILTER_LIST_COPY = "filter_list.yaml"
