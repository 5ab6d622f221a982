"""The observer path: what the harness reads from (and, for canaries, writes to) the servers
directly, to put it in the record before judging — never part of a verdict by itself.

- `collector`: the evidence a run records at its observation points and at the end
  (read-backs, link state, GTIDs, sequences, filters, canaries, schemas);
- `consistency`: the chunked-checksum comparison of the two data centres (also
  `drills check consistency`).

The checks (`drills.checks`) are pure functions of what these wrote into the journal and
the ledger.
"""
