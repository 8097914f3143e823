"""Static type checking of expression trees against a schema.

The rules live in :mod:`feature_platform.artefact.type_rules`, shared with every runtime so the type
the compiler records is the type a runtime produces; the compiler only reports what they find.
:func:`infer` returns a type and a list of error strings rather than raising, so the validator can
report every problem in every expression at once.
"""

from __future__ import annotations

from feature_platform.artefact.type_rules import infer

__all__ = ["infer"]
