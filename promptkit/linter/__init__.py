"""Stage 3 of the data flow: lint rules with codes, messages, spans and fixes, and the formatter."""

from .diagnostics import Diagnostic, Edit, Fix, Severity
from .engine import LintReport, fix_text, lint_prompt, select_rules
from .formatter import format_prompt
from .rule import LintContext, Rule, all_rules

__all__ = ["lint_prompt", "fix_text", "format_prompt", "LintReport", "Diagnostic", "Fix", "Edit", "Severity",
           "Rule", "LintContext", "all_rules", "select_rules"]
