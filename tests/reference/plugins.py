"""Pure-Python versions of the built-in executor plugins, one row at a time.

Each takes the event (a dict of normalised fields) and the plugin's validated parameters and
returns the fields it adds. They follow the plugin docstrings in ``feature_platform.plugins.builtin``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from tests.reference.expressions import WHITE_SPACE, _strip


def dwell_bucketiser(event: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Bucket = how many boundaries the dwell time reaches; negative or missing dwell → null."""
    dwell = event.get(params.get("input_field", "dwell_ms"))
    boundaries = params.get("boundaries_ms", [1_000, 5_000, 15_000, 60_000])
    bucket = None if dwell is None or dwell < 0 else sum(1 for b in boundaries if dwell >= b)
    return {params.get("output_field", "dwell_bucket"): bucket}


def _word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" or char in WHITE_SPACE


def query_normaliser(event: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Lower-case, punctuation → space, collapse whitespace, strip, truncate, strip; count tokens."""
    text = event.get(params.get("input_field", "query"))
    normalised = None
    if text is not None:
        spaced = "".join(c if _word_char(c) else " " for c in text.lower())
        collapsed: list[str] = []
        for char in spaced:
            if char in WHITE_SPACE:
                if not collapsed or collapsed[-1] != " ":
                    collapsed.append(" ")
            else:
                collapsed.append(char)
        normalised = _strip(_strip("".join(collapsed))[: params.get("max_chars", 128)]) or None
    tokens = 0 if normalised is None else len(normalised.split(" "))
    return {
        params.get("output_field", "query_norm"): normalised,
        params.get("token_count_field", "query_tokens"): tokens,
    }


PLUGINS: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "dwell_bucketiser": dwell_bucketiser,
    "query_normaliser": query_normaliser,
}
