"""Stage 3 of the data flow: lint rules with codes, messages, spans and fixes, and the formatter."""

from .diagnostics import Diagnostic, Edit, Fix, Severity
from .engine import LintReport, fix_text, lint_prompt
from .formatter import format_prompt
from .registry import UnknownRuleError, all_rules, default_rules, select_rules
from .rule import LintContext, Rule

__all__ = ["lint_prompt", "fix_text", "format_prompt", "LintReport", "Diagnostic", "Fix", "Edit", "Severity",
           "Rule", "LintContext", "all_rules", "default_rules", "select_rules", "UnknownRuleError"]
