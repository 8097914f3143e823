"""The compile plane: discovery, validation, compilation, artefact JSON Schema."""

from feature_platform.compiler.compile import CompileResult, compile_configs, write_output
from feature_platform.compiler.issues import ValidationIssue, render_issues
from feature_platform.compiler.json_schema import artefact_json_schema

__all__ = ["CompileResult", "ValidationIssue", "artefact_json_schema", "compile_configs", "render_issues",
           "write_output"]
