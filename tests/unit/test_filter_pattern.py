"""Wild filter patterns mean what the server means (issue 18, items 4 and 12).

The reference below is a line-by-line port of MariaDB's `my_wildcmp_unicode_impl`
(strings/ctype-utf8.c), the function `Rpl_filter::find_wild` calls for
replicate_wild_ignore_table, with the escape `\\`, `_`, `%` and utf8mb3_general_ci
weights. It backtracks, so it is only run on short inputs; `like_match` must agree with it
everywhere and stay linear. `tests/integration/test_audit_filter_differential.py` checks
the same predictions against a real replica.
"""

from __future__ import annotations

import time

from hypothesis import example, given, settings
from hypothesis import strategies as st

from drills.filter_list import FilterEntry, compile_pattern, fold_pattern_text, like_match

ALPHABET = "aAbé_E%\\.ß"


def server_wildcmp(value: str, wild: str, escape: str = "\\", one: str = "_", many: str = "%") -> int:
    """0 when `value` matches `wild`, as MariaDB computes it (1 or -1 otherwise)."""

    def same(a: str, b: str) -> bool:
        return fold_pattern_text(a) == fold_pattern_text(b)

    def impl(si: int, wi: int) -> int:
        wc = ""
        while wi != len(wild):
            while True:
                escaped = False
                wc = wild[wi]
                if wc == many:
                    break
                wi += 1
                if wc == escape and wi < len(wild):
                    wc = wild[wi]
                    wi += 1
                    escaped = True
                if si == len(value):
                    return 1
                sc = value[si]
                si += 1
                if (escaped or wc != one) and not same(sc, wc):
                    return 1
                if wi == len(wild):
                    return 1 if si != len(value) else 0
            while wi != len(wild):  # wc is `%`: skip further `%`, let each `_` take one character
                wc = wild[wi]
                if wc == many:
                    wi += 1
                    continue
                if wc == one:
                    wi += 1
                    if si == len(value):
                        return 1
                    si += 1
                    continue
                break
            if wi == len(wild):
                return 0
            if si == len(value):
                return -1
            wc = wild[wi]
            wi += 1
            if wc == escape and wi < len(wild):
                wc = wild[wi]
                wi += 1
            while True:
                while si != len(value) and not same(value[si], wc):
                    si += 1
                if si == len(value):
                    return -1
                si += 1
                result = impl(si, wi)
                if result <= 0:
                    return result
        return 1 if si != len(value) else 0

    return impl(0, 0)


@settings(max_examples=3000, deadline=None)
@given(pattern=st.text(alphabet=ALPHABET, max_size=9), value=st.text(alphabet=ALPHABET, max_size=9))
@example(pattern="app.tmp\\_%", value="app.tmpx1")
@example(pattern="a\\", value="a\\")
@example(pattern="%\\%", value="ab%")
@example(pattern="%_", value="")
@example(pattern="tmpe", value="TMPÉ")
@example(pattern="s", value="ß")
def test_like_match_agrees_with_the_server_algorithm(pattern: str, value: str) -> None:
    assert like_match(pattern, value) == (server_wildcmp(value, pattern) == 0)


def test_escapes_case_and_accents() -> None:
    assert like_match("db.tmp\\_%", "db.tmp_1") and not like_match("db.tmp\\_%", "db.tmpx1")
    assert like_match("db.tmp_%", "db.tmpx1")  # unescaped `_` is any one character
    assert like_match("db.100\\%", "db.100%") and not like_match("db.100\\%", "db.1000")
    assert like_match("DB.T%", "db.tmp") and like_match("db.tmpe", "db.TMPÉ")
    assert like_match("db.%.r", "db.q.r")  # `%` crosses dots: the server matches the whole `db.table` text
    assert not like_match("db.t", "db.tt") and not like_match("db.t_", "db.t")


def test_exact_entries_ignore_case_but_not_accents() -> None:
    exact = FilterEntry("app.FOO", False)
    assert exact.matches("app.foo") and exact.matches("APP.Foo")
    assert not FilterEntry("app.bar", False).matches("app.bär")  # measured on MariaDB 10.11
    assert FilterEntry("app.Σx", False).matches("app.ςx")


def test_many_percent_signs_are_linear() -> None:
    """Issue 18, item 4: `app.%%%%%%%%%%%%z` took ~20 s on fixtures/schema.sql (regex `.*` per `%`)."""
    value = "app." + "a" * 125
    patterns = ["app.%%%%%%%%%%%%z", "mall.%%%%%%%%%%zzz", "%a%a%a%a%a%a%a%a%a%a%b", "%" * 300 + "z", "%_%_%_%_%_%_%_%z"]
    start = time.perf_counter()
    for _ in range(200):
        for p in patterns:
            assert not like_match(p, value)
            compile_pattern.cache_clear()
    assert time.perf_counter() - start < 1.0
