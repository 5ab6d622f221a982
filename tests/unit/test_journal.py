"""The journal's seal: any edit, removal, reordering or truncation of a line is detected."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from drills.journal import GENESIS, Journal, read, verify

payloads = st.dictionaries(st.sampled_from(["dc", "epoch", "error", "source", "kind", "note"]),
                           st.one_of(st.integers(-5, 10**6), st.text(max_size=12), st.booleans()), max_size=4)
events = st.lists(st.tuples(st.sampled_from(["runner", "fault", "controller"]), st.sampled_from(["a.b", "fault.inject", "x"]),
                            payloads), min_size=2, max_size=12)


def _write(path: Path, evs: list) -> str:
    with Journal(path) as j:
        for source, kind, payload in evs:
            j.record(source, kind, **payload)
        return j.head


@settings(max_examples=60, deadline=None)
@given(evs=events)
def test_an_untouched_journal_verifies_against_its_seal(tmp_path_factory, evs) -> None:  # noqa: ANN001
    path = tmp_path_factory.mktemp("j") / "journal.jsonl"
    head = _write(path, evs)
    v = verify(path, head)
    assert v.ok and v.lines == len(evs) and v.final_hash == head != GENESIS
    assert [r["payload"] for r in read(path)] == [p for _, _, p in evs]  # payload keys `source`/`kind` survive


@settings(max_examples=80, deadline=None)
@given(evs=events, data=st.data())
def test_any_single_tampering_is_detected(tmp_path_factory, evs, data) -> None:  # noqa: ANN001
    path = tmp_path_factory.mktemp("j") / "journal.jsonl"
    head = _write(path, evs)
    # lines end at "\n" only: str.splitlines() would also cut at a U+0085 or U+2028 inside a
    # payload, which the journal writes as is (JSON escapes only control characters)
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    how = data.draw(st.sampled_from(["edit", "remove", "swap", "truncate", "append"]))
    i = data.draw(st.integers(0, len(lines) - 1))
    if how == "edit":
        rec = json.loads(lines[i])
        rec["payload"]["tampered"] = True
        lines[i] = json.dumps(rec, sort_keys=True)
    elif how == "remove":
        del lines[i]
    elif how == "swap":
        j = (i + 1) % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "truncate":
        lines = lines[:i]
    else:
        rec = json.loads(lines[-1])
        lines.append(json.dumps(dict(rec, seq=rec["seq"] + 1), sort_keys=True))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert not verify(path, head).ok, how


def test_a_torn_last_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, [("runner", "a", {}), ("runner", "b", {"x": 1})])
    text = path.read_text()
    path.write_text(text[: len(text) - 10])
    v = verify(path)
    assert not v.ok and v.line_no == 2


def test_secrets_never_reach_the_file_and_the_chain_still_verifies(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, secrets=["s3cr3t-pw"]) as j:
        j.record("runner", "shell", command="mysql -ps3cr3t-pw -e 'select 1'")
        j.add_secret("late-secret")
        j.record("runner", "note", text="late-secret here")
        head = j.head
    text = path.read_text()
    assert "s3cr3t-pw" not in text and "late-secret" not in text and "***" in text
    assert verify(path, head).ok


def test_concurrent_writers_produce_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path) as j:
        def write(n: int) -> None:
            for k in range(50):
                j.record("workload", "op", worker=n, k=k)
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        head = j.head
    v = verify(path, head)
    assert v.ok and v.lines == 200
    monos = [r["mono_ns"] for r in read(path)]
    assert monos == sorted(monos)  # one clock, appended in order


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, [("runner", "a", {})])
    head = _write(path, [("runner", "b", {})])
    v = verify(path, head)
    assert v.ok and v.lines == 2 and [r["seq"] for r in read(path)] == [0, 1]


def test_wall_clock_seconds_and_milliseconds_come_from_one_reading(monkeypatch) -> None:  # noqa: ANN001
    import drills.journal as journal_mod

    readings = iter([1_700_000_000.999, 1_700_000_001.000])  # a second boundary between two reads
    monkeypatch.setattr(journal_mod.time, "time", lambda: next(readings))
    assert journal_mod.now_wall() == "2023-11-14T22:13:20.999Z"
