"""What a scenario file may say, as typed models.

A scenario is a drill written down: which topology, which application load and which
failover controller, then stages of steps (faults, switches, expectations, manual gates),
then the objectives the evidence is judged against. Every model forbids unknown keys so
that a typo (`whithin: 5s`) is an error at `drills validate` time, not a silently ignored
expectation during an exercise.

Steps are one model with one action key each (`wait:`, `sql:`, `fault:` ...) rather than
a union: a person writes `- sql: {...}`, and errors then point at that key, not at
whichever union member pydantic happened to try last.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from drills.durations import shown_value
from drills.topology.spec import TopologySpec
from drills.yamlsource import Duration

DcName = Literal["dc1", "dc2"]
CheckName = Literal["rto", "rpo", "sequence_continuity", "filter_tables", "data_consistency", "split_brain",
                    "write_availability", "unit_isolation", "cutover_protocol", "write_ban_window",
                    "replication_conflicts"]
CHECK_NAMES: tuple[str, ...] = CheckName.__args__  # type: ignore[attr-defined]

_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*/\s*(s|sec|m|min)\s*$")


MAX_RATE = 10_000_000  # operations per second; far beyond what one workload process can issue


def parse_rate(value: Any) -> float:
    """"200/s", "12000/m" or a number (per second) -> operations per second, above 0 and
    below MAX_RATE (a 500-digit rate must be refused, not overflow float())."""
    if isinstance(value, bool):
        raise ValueError("expected a rate like 200/s or 12000/m")
    if isinstance(value, int) and not 0 < value < MAX_RATE:  # compared as an int: float(10**400) overflows
        rate = 0.0
    elif isinstance(value, int | float):
        rate = float(value)
    elif isinstance(value, str) and (m := _RATE.match(value)):
        rate = float(m.group(1)) / (60.0 if m.group(2) in ("m", "min") else 1.0)
    else:
        raise ValueError(f"expected a rate like 200/s or 12000/m, got {shown_value(value)}")
    if not 0 < rate < MAX_RATE:
        raise ValueError(f"expected a rate above 0 and below {MAX_RATE:,}/s, got {shown_value(value)}")
    return rate


Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": MAX_RATE},
                      {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]*)?\s*/\s*(s|sec|m|min)\s*$"}],
            "description": "operations per second: 200/s, 12000/m, or a number",
        }
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- workload and controller (issue 4 reads these) -----------------------------------------


class SequenceSpec(Strict):
    table: str = Field("app.id_sequence", pattern=r"^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$")
    name: str = "orders"
    segment: int = Field(10000, ge=1, le=4_294_967_295,
                         description="IDs taken per allocation (source documents: 10,000); at most the sequence "
                         "table's INT UNSIGNED `step`")
    refetch_on_switch: bool = Field(True, description="re-fetch a segment after a route change (the fix); false reproduces the incident")


class WorkloadSpec(Strict):
    """The application that writes during the drill. Absent section = no workload."""

    kind: Literal["orders", "external", "none", "unit-orders"] = Field(
        "orders", description="unit-orders: the active-active application (orders routed by buyer to its unit)")
    rate: Rate = 200.0
    workers: int = Field(4, ge=1, le=256)
    sequence: SequenceSpec = SequenceSpec()
    job_log: bool = Field(True, description="also write the non-replicated job log table")
    job_log_every: int = Field(10, ge=1, description="one job_log row per this many orders")
    retry_delay: Duration | None = Field(None, description="overrides the routing document's retry.delay_ms (the SDK's delay between retries)")
    connect_timeout: Duration = Field(1.0, gt=0)
    query_timeout: Duration = Field(2.0, gt=0, description="an unanswered write becomes `info` (outcome unknown) after this")
    command: str | None = Field(None, description="kind external: the user's load generator")
    ledger: str | None = Field(None, description="kind external: path of the ledger it writes (ledger.jsonl format)")
    ids: Literal["distributed", "auto-increment"] = Field(
        "distributed", description="unit-orders: the distributed ID scheme, or AUTO_INCREMENT with the same offset on "
                                   "both units (the negative case)")

    @model_validator(mode="after")
    def _external_needs_command(self) -> WorkloadSpec:
        if self.kind == "external" and not self.command:
            raise ValueError("workload kind external needs `command:` (the load generator to run)")
        if self.kind != "external" and (self.command or self.ledger):
            raise ValueError("`command:`/`ledger:` are only for workload kind external")
        return self


class ProbeSpec(Strict):
    interval: Duration = 0.2
    timeout: Duration = 0.2
    failures: int = Field(3, ge=1)


class ControllerSpec(Strict):
    """What fails over. Absent section = no controller (the scenario switches by hand)."""

    kind: Literal["reference", "external", "none", "cutover"] = Field(
        "reference", description="cutover: the active-active cut-over controller (drills.active_active.cutover)")
    auto_failover: bool = True
    probe: ProbeSpec = ProbeSpec()
    write_ban: bool = Field(True, description="cutover: publish the write ban first (false only for the negative drill)")
    wait_catch_up: bool = Field(True, description="cutover: wait for the link to reach the ban point (false: negative drill)")
    cutover_timeout: Duration = Field(30.0, gt=0, description="cutover: how long a cut-over may stall before it stops")
    max_lag: Duration = 1.0
    lag_wait: Duration = 5.0
    block_period: Duration = 30.0
    fencing: bool = True
    edge_fencing: bool = Field(True, description="when the old primary cannot be set read-only (hung, unreachable), "
                               "cut its application and link service paths before promoting; off only to show why it matters")
    failover: str | None = Field(None, description="kind external: command run for a failover")
    command_timeout: Duration = Field(60.0, gt=0, description="kind external: how long a command may take")
    switchover: str | None = Field(None, description="kind external: command run for a planned switchover")
    failback: str | None = Field(None, description="kind external: command run for a failback")
    monitor: str | None = Field(None, description="kind external: a long-running command that watches the topology and "
                                "fails over on its own (orchestrator, a home-grown script); its own process group, "
                                "output kept in the run directory as monitor.log, stopped on every way out of the run")
    ready: str | None = Field(None, description="kind external: a command polled until it exits 0 before the drill "
                              "goes on (the monitor has discovered the topology)")
    ready_timeout: Duration = Field(60.0, gt=0, description="kind external: how long `ready:` may keep failing")

    @model_validator(mode="after")
    def _external_needs_commands(self) -> ControllerSpec:
        commands = (self.failover, self.switchover, self.failback, self.monitor)
        if self.kind == "external" and not any(commands):
            raise ValueError("controller kind external needs a `monitor:` that decides alone, or at least one of "
                             "`failover:`, `switchover:`, `failback:` commands")
        if self.kind != "external" and (any(commands) or self.ready):
            raise ValueError("`monitor:`/`ready:`/`failover:`/`switchover:`/`failback:` commands are only for "
                             "controller kind external")
        return self


# ---- params ------------------------------------------------------------------------------

Scalar = str | int | float | bool


class ParamSpec(Strict):
    default: Scalar | None = None
    secret: bool = Field(False, description="read from the environment only; masked in journal and reports")
    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="environment variable that supplies the value")
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {"default": value}

    @model_validator(mode="after")
    def _secret_from_env(self) -> ParamSpec:
        if self.secret and self.default is not None:
            raise ValueError("a secret parameter must not have a default in the file; give `env:` instead")
        if self.secret and not self.env:
            raise ValueError("a secret parameter needs `env:` (the variable that holds it)")
        return self


# ---- steps ---------------------------------------------------------------------------------


class SqlSpec(Strict):
    dc: DcName
    statement: str = Field(min_length=1)
    via: Literal["observer", "service"] = "observer"
    database: str | None = None


def _command(value: str) -> str:
    if not value.strip():
        raise ValueError("a shell step needs a command to run")
    return value


# A command line: refused when empty or blank here, so `shell: ''` is a validate-time error
# located at its line rather than a failure in the middle of a drill.
Command = Annotated[str, AfterValidator(_command), WithJsonSchema({"type": "string", "pattern": r"\S"})]


class ShellSpec(Strict):
    command: Command
    timeout: Duration = 60.0


class FaultSpec(BaseModel):
    """`type` and `target` are the runner's; any other key is the fault's own parameter and
    is checked by the fault catalogue (`drills.faults`) when the fault is made."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1, pattern=r"^[a-z_]+$")
    target: str | None = None
    name: str | None = Field(None, description="handle for a later `heal:`; defaults to type@target")

    @property
    def handle(self) -> str:
        return self.name or f"{self.type}@{self.target or '-'}"


class SwitchoverSpec(Strict):
    to: DcName | None = None


class FailoverSpec(Strict):
    to: DcName | None = None
    force: bool = False


class FailbackSpec(Strict):
    to: DcName | None = None


class ReadOnlyExpect(Strict):
    dc: DcName
    value: bool = True


class WritesSucceedExpect(Strict):
    dc: DcName | None = Field(None, description="default: the active DC in etcd")
    within: Duration = 10.0


class OrdersAcknowledgedExpect(Strict):
    """The application itself — the workload, not a probe of the harness — has an order
    acknowledged by `dc` since this step began: proof that clients followed the route."""

    dc: DcName
    within: Duration = 10.0


_EXPECT_KINDS = ("active", "replication", "lag_below", "read_only", "writes_succeed", "orders_acknowledged")


class ExpectSpec(Strict):
    """One assertion, polled until true or `within` runs out."""

    active: DcName | None = None
    replication: Literal["running", "stopped"] | None = None
    lag_below: Duration | None = None
    read_only: ReadOnlyExpect | None = None
    writes_succeed: WritesSucceedExpect | None = None
    orders_acknowledged: OrdersAcknowledgedExpect | None = None
    dc: DcName | None = Field(None, description="replication/lag_below: the replica to look at (default: the DC that is not active)")
    within: Duration = Field(5.0, description="how long to poll before the expectation fails")

    @model_validator(mode="after")
    def _one_assertion(self) -> ExpectSpec:
        given = [k for k in _EXPECT_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"an expect needs exactly one of: {', '.join(_EXPECT_KINDS)}" + (f"; found {', '.join(given)}" if given else ""))
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _EXPECT_KINDS if getattr(self, k) is not None)

    @property
    def window(self) -> float:
        """How long to poll: the assertion's own `within` where it has one."""
        own = self.writes_succeed or self.orders_acknowledged
        return float(own.within) if own is not None else float(self.within)


class GateSpec(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    timeout: Duration = 600.0
    message: str = ""


class CutoverSpec(Strict):
    """Active-active: move the users `range` (inclusive user ids) to unit `to`."""

    range: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]
    to: DcName

    @model_validator(mode="after")
    def _ordered(self) -> CutoverSpec:
        if self.range[0] > self.range[1]:
            raise ValueError(f"cutover range [{self.range[0]}, {self.range[1]}]: the first user id must not exceed the last")
        return self


class RouteSpec(Strict):
    active: DcName


STEP_KINDS = (
    "wait", "sql", "shell", "fault", "heal", "switchover", "failover", "failback",
    "expect", "gate", "route", "workload", "cutover",
)
_EMPTY_OK = ("switchover", "failover", "failback")  # `- failback:` alone means "with defaults"


class Step(Strict):
    name: str | None = None
    retry: int = Field(0, ge=0, le=100, description="extra attempts after a failure")
    on_failure: Literal["abort", "continue", "skip"] = Field(
        "abort",
        description="abort: stop the run (failed); continue: record the failure, go on, the run fails; "
        "skip: record the step as skipped, go on, the run does not fail because of it",
    )
    timeout: Duration | None = Field(None, description="per attempt")

    wait: Duration | None = None
    sql: SqlSpec | None = None
    shell: Command | ShellSpec | None = None
    fault: FaultSpec | None = None
    heal: str | None = Field(None, description="a fault's name or target, or * for all active faults")
    switchover: SwitchoverSpec | None = None
    failover: FailoverSpec | None = None
    failback: FailbackSpec | None = None
    expect: ExpectSpec | None = None
    gate: GateSpec | None = None
    route: RouteSpec | None = None
    workload: Literal["start", "stop"] | None = None
    cutover: CutoverSpec | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": [k]} for k in STEP_KINDS]},
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_switch(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = dict(value)
            for key in _EMPTY_OK:
                if key in value and value[key] is None:
                    value[key] = {}
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            found = f"; found {', '.join(given)}" if given else ""
            raise ValueError(f"a step needs exactly one action key, one of: {', '.join(STEP_KINDS)}{found}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def shell_spec(self) -> ShellSpec | None:
        if isinstance(self.shell, str):
            return ShellSpec(command=self.shell)
        return self.shell

    def label(self, index: int) -> str:
        return self.name or f"{index + 1}:{self.kind}"


class Stage(Strict):
    name: str = Field(min_length=1)
    parallel: bool = False
    steps: list[Step] = Field(min_length=1)


# ---- objectives -----------------------------------------------------------------------------


class RpoBound(Strict):
    max_writes: int | None = Field(None, ge=0, description="lost acknowledged writes allowed")
    max_span: Duration | None = Field(None, description="time span the lost writes may cover")


class ChecksSpec(Strict):
    """Every check is judged on every run; a check that cannot decide (`unknown`) makes the
    run inconclusive unless the scenario waives it here, with the reason every report shows.
    `required` checks must pass; `expected_to_fail` ones must fail (a negative drill)."""

    required: list[CheckName] = Field(default_factory=list)
    expected_to_fail: list[CheckName] = Field(default_factory=list)
    not_judged: dict[CheckName, Annotated[str, Field(min_length=3)]] = Field(
        default_factory=dict, description="checks this drill cannot decide by design, each with the reason")

    @model_validator(mode="after")
    def _disjoint(self) -> ChecksSpec:
        both = sorted(set(self.required) & set(self.expected_to_fail))
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both required to pass and expected to fail")
        waived = sorted(set(self.not_judged) & (set(self.required) | set(self.expected_to_fail)))
        if waived:
            raise ValueError(f"{', '.join(waived)} cannot be waived in not_judged and also required or expected to fail")
        return self


class Objectives(Strict):
    rto: Duration | None = None
    rpo: Annotated[int, Field(ge=0)] | RpoBound | None = Field(None, description="lost acknowledged writes: 0, N, or {max_writes, max_span}")
    switchover_window: Duration | None = None
    write_ban_window: Duration | None = Field(None, description="active-active: the longest a moved range may stay write-banned")
    write_availability: Duration | None = Field(None, description="the longest the application may go without an "
                                                "acknowledged write while the workload runs (default: the rto)")
    checks: ChecksSpec = ChecksSpec()


# ---- the scenario ------------------------------------------------------------------------------


class Scenario(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    topology: Path | TopologySpec | None = Field(None, description="a topology file (relative to the scenario) or inline settings; default: built-in")
    workload: WorkloadSpec = Field(default_factory=lambda: WorkloadSpec(kind="none"))
    controller: ControllerSpec = Field(default_factory=lambda: ControllerSpec(kind="none"))
    params: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ParamSpec] = Field(default_factory=dict)
    stages: list[Stage] = Field(default_factory=list)
    objectives: Objectives = Objectives()

    # set by the loader, not by the file
    _source: Path | None = PrivateAttr(None)
    _sha256: str = PrivateAttr("")
    _param_values: dict[str, Any] = PrivateAttr(default_factory=dict)
    _secret_values: list[str] = PrivateAttr(default_factory=list)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def sha256(self) -> str:
        """Of the file as read: result.json names exactly which text was run."""
        return self._sha256

    @property
    def param_values(self) -> dict[str, Any]:
        return dict(self._param_values)

    @property
    def secret_values(self) -> list[str]:
        """Values to register with the Journal and every report as secrets."""
        return list(self._secret_values)

    def masked_params(self) -> dict[str, Any]:
        secret = {n for n, p in self.params.items() if p.secret}
        return {k: ("***" if k in secret else v) for k, v in self._param_values.items()}

    def steps(self) -> list[tuple[Stage, int, Step]]:
        return [(stage, i, step) for stage in self.stages for i, step in enumerate(stage.steps)]

    def step_kinds(self) -> set[str]:
        return {step.kind for _, _, step in self.steps()}

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> Scenario:
        """Built in code: the first cross-part problem. The loader checks these itself, every
        one located (drills.scenario.semantics), and asks this validator to stand aside."""
        self._coherent_active_active(self.step_kinds())
        if info.context and info.context.get(LOADER_CHECKS):
            return self
        from drills.scenario.semantics import coherence_problems

        problems = coherence_problems(enumerate(s.name for s in self.stages),
                                      [(("stages", i, "steps", j), step.kind) for i, stage in enumerate(self.stages)
                                       for j, step in enumerate(stage.steps)],
                                      self.workload.kind, self.controller.kind)
        if problems:
            raise ValueError(problems[0].message)
        return self

    def _coherent_active_active(self, kinds: set[str]) -> None:
        """Units, cut-overs and the unit application go together, and only with `mode:
        active-active` (checked here when the topology is inline; a topology file is checked
        when the run loads it)."""
        if "cutover" in kinds and self.controller.kind != "cutover":
            raise ValueError("`cutover:` steps need `controller: {kind: cutover}`")
        mode = "single-writer" if self.topology is None else getattr(self.topology, "mode", None)
        wants = [what for what, on in (("controller kind cutover", self.controller.kind == "cutover"),
                                       ("workload kind unit-orders", self.workload.kind == "unit-orders")) if on]
        if mode == "single-writer" and wants:
            raise ValueError(f"{' and '.join(wants)} need `topology: {{mode: active-active}}`")
        if mode == "active-active" and self.controller.kind in ("reference", "external"):
            raise ValueError("topology mode active-active has no single writer to fail over: use `controller: {kind: cutover}`")
        if mode == "active-active" and self.workload.kind == "orders":
            raise ValueError("topology mode active-active: the application is `workload: {kind: unit-orders}`")


LOADER_CHECKS = "cross_part_checks_by_loader"


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to validate scenario files (`drills schema`)."""
    schema = Scenario.model_json_schema(mode="validation")
    # `params: {rows: 10}` is shorthand for `{rows: {default: 10}}`
    for key, value in schema.get("properties", {}).get("params", {}).get("patternProperties", {}).items():
        schema["properties"]["params"]["patternProperties"][key] = {
            "anyOf": [value, {"type": ["string", "number", "boolean", "null"]}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "drills scenario"
    return schema
