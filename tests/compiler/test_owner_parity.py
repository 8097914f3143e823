"""The compiler's owner rule is Dagster's: an owner validation accepts is one Dagster accepts as an asset owner
(after the orchestration plane's ``team:`` prefixing), so a valid config never breaks the code location.

Tests may import Dagster; the compile plane may not (import-linter), so ``owners.py`` mirrors the rule.
"""

from __future__ import annotations

import pytest
from dagster._core.definitions.utils import is_valid_owner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feature_platform.compiler.owners import as_dagster_owner, owner_problem
from feature_platform.orchestration.assets import owners_for_dagster

_PIECES = st.text(alphabet="abcXYZ019._%+-@:| \n", max_size=8)
_OWNERS = st.one_of(
    st.text(max_size=20),
    st.builds(lambda a, b, c: f"{a}@{b}.{c}", _PIECES, _PIECES, _PIECES),
    st.builds(lambda a: f"team:{a}", _PIECES),
    _PIECES,
)


@settings(max_examples=800, deadline=None)
@given(_OWNERS)
@example("alice@")
@example("team:")
@example("a@b@c")
@example("alice@example.com")
@example("alice@example.com\n")
@example("homefeed-team")
@example("team:homefeed")
@example(".alice@example.com")
@example("alice@example.c|m")
def test_validation_accepts_an_owner_exactly_when_dagster_does(owner: str) -> None:
    dagster_accepts = is_valid_owner(owners_for_dagster((owner,))[0])
    if not owner.strip() or not owner.isprintable() or owner != owner.strip():
        # blank, control characters, stray spaces: refused on purpose, even where Dagster would take them
        assert owner_problem(owner)
        return
    assert (owner_problem(owner) == "") == dagster_accepts, owner


@pytest.mark.parametrize(
    ("owner", "problem"),
    [
        ("alice@", "neither an email address"),
        ("a@b@c", "neither an email address"),
        ("team:", "empty team name"),
        ("  ", "blank"),
    ],
)
def test_owners_dagster_refuses_are_refused_with_a_reason(owner: str, problem: str) -> None:
    assert problem in owner_problem(owner)
    assert not is_valid_owner(as_dagster_owner(owner)) or not owner.strip()


@pytest.mark.parametrize("owner", ["team-x\n", "alice\t", " team-x", "team:x\r"])
def test_owners_with_stray_characters_are_refused_even_where_dagster_takes_them(owner: str) -> None:
    assert "white space or control characters" in owner_problem(owner)
