"""drills: disaster-recovery drills for two-data-centre MySQL applications.

The harness brings up a real topology, injects faults, drives failover and failback,
and judges the outcome from a hash-chained journal and a client-side ledger.
"""

__version__ = "0.1.0"
