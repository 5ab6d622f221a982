"""Static and live audit of replication filter lists (`drills audit`).

The filter list is where DR exercises go wrong: hundreds of entries chosen under time
pressure. The audit reads the list, the schema of one or both data centres (dump files
offline, or live servers) and optionally observed traffic, and reports rule findings
(`drills.audit.rules`) with a rationale and a fix, as text, JSON, SARIF or JUnit.
"""

from drills.audit.engine import run_audit
from drills.audit.rules import RULES, AuditContext, Finding, Rule, Severity
from drills.audit.sqldump import SchemaParseError, parse_dumps, parse_sql

__all__ = ["RULES", "AuditContext", "Finding", "Rule", "SchemaParseError", "Severity", "parse_dumps", "parse_sql", "run_audit"]
