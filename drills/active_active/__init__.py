"""Active-active mode: units routed by user, two-way replication, the write-ban cut-over.

The source documents' multi-active design (region-based multi-active guide; the e-commerce
write-up, section 4): each DC is a *unit* owning a share of the users and taking their
writes; unit databases replicate both ways; one *central* unit alone writes global data,
which replicates one way. Moving users between units follows a fixed protocol (ban, effect
feedback, link catch-up to the ban point, new rules, lift) that `cutover` implements and the
checks in `drills.checks.units` judge from the record.
"""
