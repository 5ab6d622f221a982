from __future__ import annotations

from pathlib import Path

from test_check_history import Drill

from drills import events as ev
from drills.checks import filters
from drills.filter_list import load

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "filter_list.yaml"
DECLARED = load(FIXTURE)
DDL = "CREATE TABLE `app_config` (\n  `config_key` varchar(128) NOT NULL,\n  PRIMARY KEY (`config_key`)\n) ENGINE=InnoDB{ai}"
TABLES = ["app.app_config", "app.job_switch", "app.job_log", "app.tmp_orders_bak_20260101", "bi.daily_sales"]


def canary_round(d: Drill, source: str, replica: str, *, round_id: str, found: dict[str, bool] | None = None,
                 caught_up: bool | None = True, control_found: bool = True, observe: bool = True,
                 skip: tuple[str, ...] = ()) -> None:
    """What evidence.write_canaries + resolve_canaries journal for one round."""
    d.event(ev.CANARY_PLAN, "observer", round=round_id, source=source, replica=replica, tables=TABLES,
            control="drills_canary.control")
    for n, table in enumerate(TABLES):
        if table in skip:
            d.event(ev.OBSERVE_ERROR, "observer", what="canary", dc=source, table=table, error="MySQL error 1146")
            continue
        d.event(ev.CANARY_WRITE, "observer", table=table, source=source, replica=replica, marker=f"{round_id}-{n}",
                filtered=True, round=round_id, by="harness", key={"k": n})
    d.event(ev.CANARY_WRITE, "observer", table="drills_canary.control", source=source, replica=replica,
            marker=f"{round_id}-ctl", filtered=False, round=round_id, by="harness", key={"marker": "x"})
    if not observe:
        return
    for n, table in enumerate(TABLES):
        if table in skip:
            continue
        d.event(ev.CANARY_OBSERVED, "observer", table=table, source=source, replica=replica, marker=f"{round_id}-{n}",
                found=(found or {}).get(table, False), caught_up=caught_up)
    d.event(ev.CANARY_OBSERVED, "observer", table="drills_canary.control", source=source, replica=replica,
            marker=f"{round_id}-ctl", found=control_found, caught_up=caught_up)


def observed(effective: dict | None = None, *, canaries: bool = True, control_found: bool = True,
             schema: dict | None = None) -> Drill:
    d = Drill()
    d.event(ev.FILTERS_DECLARED, "observer", when="baseline", **DECLARED.as_filters())
    d.event(ev.OBSERVE_FILTERS, "observer", replica="dc2", source="dc1", effective=effective or DECLARED.as_filters(),
            declared=DECLARED.as_filters())
    if canaries:
        canary_round(d, "dc1", "dc2", round_id="r1", control_found=control_found)
    d.event(ev.OBSERVE_SCHEMA, "observer", table="app.app_config",
            definitions=schema or {"dc1": DDL.format(ai=" AUTO_INCREMENT=5"), "dc2": DDL.format(ai="")})
    return d


def test_everything_in_order_passes() -> None:
    v = filters.check(observed().history())
    assert v.status == "passed", v.summary
    assert v.evidence["filters"]["directions"] == ["dc1->dc2"]
    assert "5 filtered table(s)" in v.summary and "dc1->dc2 link," in v.summary


def test_effective_filters_missing_an_entry_fail() -> None:
    effective = DECLARED.as_filters()
    effective["ignore_tables"] = [t for t in effective["ignore_tables"] if t != "app.job_log"]
    v = filters.check(observed(effective).history())
    assert v.status == "failed"
    m = v.evidence["filters"]["mismatches"][0]
    assert m["missing"] == ["app.job_log"] and m["extra"] == [] and m["direction"] == "dc1->dc2"
    assert "missing app.job_log" in v.summary


def test_reversal_that_dropped_the_filter_list_fails() -> None:
    d = observed()
    d.event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters={"ignore_tables": [], "wild_ignore_tables": []})
    v = filters.check(d.history())
    assert v.status == "failed"
    m = v.evidence["filters"]["mismatches"][0]
    assert m["direction"] == "dc2->dc1" and m["read_back_by"] == "controller" and "app.app_config" in m["missing"]


def test_a_reversed_direction_without_canaries_is_not_confirmed() -> None:
    """Issue 10: the text names only what was observed; a direction read back but never
    canaried leaves the check unknown instead of claiming "both directions"."""
    d = observed()
    d.event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters=DECLARED.as_filters())
    v = filters.check(d.history())
    assert v.status == "unknown" and "no canary was written for the dc2->dc1 link" in v.summary
    canary_round(d, "dc2", "dc1", round_id="r2")
    both = filters.check(d.history())
    assert both.status == "passed" and "dc1->dc2 and dc2->dc1 links" in both.summary


def test_canary_that_reaches_the_replica_fails() -> None:
    d = observed()
    canary_round(d, "dc1", "dc2", round_id="r2", found={"app.app_config": True})
    v = filters.check(d.history())
    assert v.status == "failed" and v.measured["canaries_leaked"] == 1
    assert "app.app_config on dc1 appeared on dc2" in v.summary


def test_control_canary_missing_makes_canaries_inconclusive() -> None:
    v = filters.check(observed(control_found=False).history())
    assert v.status == "unknown" and "control row in drills_canary.control did not reach dc2" in v.summary


def test_one_inconclusive_canary_makes_the_check_unknown() -> None:
    """Issue 10: 4 of 5 canaries inconclusive must never read "canaries stayed"; here one
    could not even be written, another was never looked for."""
    d = Drill()
    d.event(ev.FILTERS_DECLARED, "observer", when="baseline", **DECLARED.as_filters())
    d.event(ev.OBSERVE_FILTERS, "observer", replica="dc2", source="dc1", effective=DECLARED.as_filters(),
            declared=DECLARED.as_filters())
    canary_round(d, "dc1", "dc2", round_id="r1", skip=("bi.daily_sales",))
    d.event(ev.OBSERVE_SCHEMA, "observer", table="app.app_config", definitions={"dc1": DDL.format(ai=""),
                                                                               "dc2": DDL.format(ai="")})
    v = filters.check(d.history())
    assert v.status == "unknown" and "bi.daily_sales" in v.summary
    assert v.evidence["canaries"]["coverage"]["dc1->dc2"]["bi.daily_sales"].startswith("inconclusive")


def test_a_canary_looked_for_before_the_link_caught_up_proves_nothing() -> None:
    d = Drill()
    d.event(ev.FILTERS_DECLARED, "observer", when="baseline", **DECLARED.as_filters())
    d.event(ev.OBSERVE_FILTERS, "observer", replica="dc2", source="dc1", effective=DECLARED.as_filters(),
            declared=DECLARED.as_filters())
    canary_round(d, "dc1", "dc2", round_id="r1", caught_up=False, control_found=True)
    d.event(ev.OBSERVE_SCHEMA, "observer", table="app.app_config", definitions={"dc1": DDL.format(ai=""),
                                                                               "dc2": DDL.format(ai="")})
    assert filters.check(d.history()).status == "unknown"


def test_a_catch_up_recorded_later_makes_an_earlier_look_conclusive_only_if_before_the_look() -> None:
    """A failback's GTID wait is the catch-up evidence for canaries written on the active
    side before it, then looked for on the old primary after it."""
    d = observed()
    canary_round(d, "dc2", "dc1", round_id="pre", observe=False)
    d.at(100).event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters=DECLARED.as_filters())
    d.event(ev.GTID_WAIT, "controller", dc="dc1", source="dc2", position="0-2-9", ok=True, waited_ms=3)
    for n, table in enumerate(TABLES):
        d.event(ev.CANARY_OBSERVED, "observer", table=table, source="dc2", replica="dc1", marker=f"pre-{n}",
                found=False, caught_up=None)
    d.event(ev.CANARY_OBSERVED, "observer", table="drills_canary.control", source="dc2", replica="dc1",
            marker="pre-ctl", found=True, caught_up=None)
    assert filters.check(d.history()).status == "passed"

    late = observed()
    canary_round(late, "dc2", "dc1", round_id="pre", observe=False)
    late.event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters=DECLARED.as_filters())
    for n, table in enumerate(TABLES):
        late.event(ev.CANARY_OBSERVED, "observer", table=table, source="dc2", replica="dc1", marker=f"pre-{n}",
                   found=False, caught_up=None)
    late.event(ev.CANARY_OBSERVED, "observer", table="drills_canary.control", source="dc2", replica="dc1",
               marker="pre-ctl", found=True, caught_up=None)
    late.event(ev.GTID_WAIT, "controller", dc="dc1", source="dc2", position="0-2-9", ok=True, waited_ms=3)
    assert filters.check(late.history()).status == "unknown"


def test_a_scenario_sql_canary_that_crossed_fails() -> None:
    d = observed()
    d.event(ev.CANARY_WRITE, "observer", table="app.app_config", source="dc2", replica="dc1", marker="scenario-9",
            filtered=True, key={"config_key": "canary.dc2"}, by="scenario")
    d.event(ev.LINK_REVERSED, "controller", source="dc2", replica="dc1", filters=DECLARED.as_filters())
    d.event(ev.CANARY_OBSERVED, "observer", table="app.app_config", source="dc2", replica="dc1", marker="scenario-9",
            found=True, caught_up=None)
    v = filters.check(d.history())
    assert v.status == "failed" and "app.app_config on dc2 appeared on dc1" in v.summary


def test_schema_drift_on_a_filtered_table_fails() -> None:
    drifted = {"dc1": DDL.format(ai=""), "dc2": DDL.replace("varchar(128)", "varchar(64)").format(ai="")}
    v = filters.check(observed(schema=drifted).history())
    assert v.status == "failed"
    drift = v.evidence["schema"]["drift"][0]
    assert drift["table"] == "app.app_config" and any("varchar(64)" in line for line in drift["difference"])
    missing = filters.check(observed(schema={"dc1": DDL.format(ai=""), "dc2": None}).history())
    assert missing.status == "failed" and "missing on dc2" in missing.summary


def test_nothing_observed_is_unknown() -> None:
    assert filters.check(Drill().history()).status == "unknown"
    v = filters.check(Drill().history(), declared=DECLARED)
    assert v.status == "unknown" and "no replication link was observed" in v.summary
    no_canaries = filters.check(observed(canaries=False).history())
    assert no_canaries.status == "unknown" and "no canary was written" in no_canaries.summary
