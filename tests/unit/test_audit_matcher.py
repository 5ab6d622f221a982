"""Entry <-> table matching: the indexed matcher agrees with LIKE semantics everywhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drills.audit.matcher import FilterIndex, literal_prefix, meant_pattern, naive_match
from drills.filter_list import FilterEntry, FilterList, like_match

_part = st.text(alphabet="ab_cA1.\\%", min_size=1, max_size=6)
_table = st.builds(lambda d, t: f"{d}.{t}", st.sampled_from(["app", "bi", "a_p", "App"]), _part)
_pattern = st.text(alphabet="ab_cB1%\\.", min_size=1, max_size=7)
_entry = st.one_of(
    st.builds(lambda d, p: FilterEntry(f"{d}.{p}", True), st.sampled_from(["app", "bi", "%", "a_p", "ap%", "a\\_p", "APP"]), _pattern),
    st.builds(lambda t: FilterEntry(t, False), _table),
)


@settings(max_examples=300, deadline=None)
@given(tables=st.lists(_table, max_size=30), entries=st.lists(_entry, max_size=10))
def test_index_agrees_with_like_match_and_naive_matcher(tables: list[str], entries: list[FilterEntry]) -> None:
    flist = FilterList(entries)
    index = FilterIndex.build(flist, tables)
    for t in {t.lower() for t in tables}:
        expected = [i for i, e in enumerate(entries) if e.matches(t)]
        assert sorted(index.entries_by_table.get(t, [])) == expected
    assert {k: sorted(v) for k, v in index.entries_by_table.items()} == {k: sorted(v) for k, v in naive_match(flist, tables).items()}


def test_literal_prefix_stops_at_either_wildcard_and_resolves_escapes() -> None:
    assert literal_prefix("app.tmp_%") == "app.tmp"
    assert literal_prefix("app.tmp\\_%") == "app.tmp_"
    assert literal_prefix("%.x") == ""
    assert literal_prefix("app.t") == "app.t"


def test_index_uses_the_escaped_prefix() -> None:
    flist = FilterList([FilterEntry("app.tmp\\_%", True)])
    index = FilterIndex.build(flist, ["app.tmp_a", "app.tmpxa", "app.TMP_B"])
    assert index.tables_for(0) == ["app.tmp_a", "app.tmp_b"]


def test_meant_pattern_escapes_separator_underscores_only() -> None:
    assert meant_pattern("app.tmp_%") == "app.tmp\\_%"
    assert meant_pattern("app.log_2024__") == "app.log_2024__"  # digits around: a wildcard on purpose
    assert meant_pattern("app.tmp\\_%") == "app.tmp\\_%"
    assert not like_match(meant_pattern("app.tmp_%"), "app.tmpl_x")
    assert like_match("app.tmp_%", "app.tmpl_x")  # what LIKE itself does
