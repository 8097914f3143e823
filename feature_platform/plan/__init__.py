"""Plan vs apply: what publishing a compiled set would change in an environment, and what it would cost.

Works on :mod:`feature_platform.artefact` models only, so runtimes and the publish step can use it::

    plan = plan_changes(compiled={...}, live={...})
    print(render_text(plan))
    if plan.breaking: ...  # refuse: breaking changes to production features need a new version

Modules: ``diff`` (the data-driven tree diff), ``impact`` (the path-pattern → impact table),
``planner`` (per-feature transitions and advice), ``render`` (text and canonical JSON), ``models``.
"""

from feature_platform.plan.diff import IGNORED_TOP_LEVEL, TreeChange, diff_artefacts, diff_documents
from feature_platform.plan.impact import IMPACT_RULES, ImpactRule, classify
from feature_platform.plan.models import (
    ChangeKind,
    FeatureDiff,
    FieldChange,
    Impact,
    Plan,
    PlanError,
    Transition,
)
from feature_platform.plan.planner import diff_feature, plan_changes
from feature_platform.plan.render import format_value, render_json, render_text

__all__ = [
    "IGNORED_TOP_LEVEL",
    "IMPACT_RULES",
    "ChangeKind",
    "FeatureDiff",
    "FieldChange",
    "Impact",
    "ImpactRule",
    "Plan",
    "PlanError",
    "Transition",
    "TreeChange",
    "classify",
    "diff_artefacts",
    "diff_documents",
    "diff_feature",
    "format_value",
    "plan_changes",
    "render_json",
    "render_text",
]
