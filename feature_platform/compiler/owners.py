"""Owners validated the way Dagster validates asset owners, so an owner that validates never breaks the code
location when it loads.

Config owners are team names or email addresses; the orchestration plane hands a plain team name to Dagster
as ``team:<name>`` (``orchestration.assets.owners_for_dagster``). Dagster (``is_valid_owner``) accepts an email
that matches its regex, or ``team:`` followed by at least one character. The compile plane may not import
Dagster (import-linter), so the rule is mirrored here; ``tests/compiler/test_owner_parity.py`` checks it
against Dagster's own function.
"""

from __future__ import annotations

import re

_DAGSTER_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")
"""Dagster's ``is_valid_email`` regex, verbatim (matched with ``fullmatch``)."""


def as_dagster_owner(owner: str) -> str:
    """The owner string Dagster is given: an email or ``team:<name>`` as written, else ``team:<owner>``."""
    return owner if "@" in owner or owner.startswith("team:") else f"team:{owner}"


def owner_problem(owner: str) -> str:
    """Why Dagster would refuse ``owner`` (written in a config), or "" when it accepts it."""
    if not owner.strip():
        return f"owner {owner!r} is blank"
    if not owner.isprintable() or owner != owner.strip():
        # stricter than Dagster on purpose: "team-x\n" is a name-like string with a stray character in it
        return f"owner {owner!r} has leading or trailing white space or control characters"
    given = as_dagster_owner(owner)
    if given.startswith("team:"):
        return "" if len(given) > len("team:") else f"owner {owner!r} has an empty team name after 'team:'"
    if _DAGSTER_EMAIL.fullmatch(given):
        return ""
    return (f"owner {owner!r} is neither an email address (name@domain.tld) nor a team name "
            "(a team name has no '@'; 'team:<name>' is also accepted)")
