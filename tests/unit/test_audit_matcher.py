"""Entry <-> table matching: the indexed matcher agrees with LIKE semantics everywhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drills.audit.matcher import FilterIndex, literal_prefix, naive_match, separator_regex
from drills.filter_list import FilterEntry, FilterList, like_match

_part = st.text(alphabet="ab_c1", min_size=1, max_size=6)
_table = st.builds(lambda d, t: f"{d}.{t}", st.sampled_from(["app", "bi", "a_p"]), _part)
_pattern = st.text(alphabet="ab_c1%", min_size=1, max_size=6)
_entry = st.one_of(
    st.builds(lambda d, p: FilterEntry(f"{d}.{p}", True), st.sampled_from(["app", "bi", "%", "a_p", "ap%"]), _pattern),
    st.builds(lambda t: FilterEntry(t, False), _table),
)


@settings(max_examples=200, deadline=None)
@given(tables=st.lists(_table, max_size=30), entries=st.lists(_entry, max_size=10))
def test_index_agrees_with_like_match_and_naive_matcher(tables: list[str], entries: list[FilterEntry]) -> None:
    flist = FilterList(entries)
    index = FilterIndex.build(flist, tables)
    for t in set(tables):
        expected = [i for i, e in enumerate(entries) if e.matches(t)]
        assert sorted(index.entries_by_table.get(t.lower(), [])) == expected
    assert {k: sorted(v) for k, v in index.entries_by_table.items()} == {k: sorted(v) for k, v in naive_match(flist, tables).items()}


def test_literal_prefix_stops_at_either_wildcard() -> None:
    assert literal_prefix("app.tmp_%") == "app.tmp"
    assert literal_prefix("%.x") == ""
    assert literal_prefix("app.t") == "app.t"


def test_separator_underscore_is_literal_only_between_letters() -> None:
    rx = separator_regex("app.tmp_%")
    assert rx.fullmatch("app.tmp_x") and not rx.fullmatch("app.tmpl_x")
    assert separator_regex("app.log_2024__").fullmatch("app.log_202401")
    assert like_match("app.tmp_%", "app.tmpl_x")  # what LIKE itself does
