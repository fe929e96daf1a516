"""Renderers: a Rich table for terminals, Markdown for CI summaries, JUnit XML, JSON from the model itself."""

from analyzer.report.junit import render_junit, render_junit_error
from analyzer.report.markdown import render_markdown
from analyzer.report.table import judgment_table, render

__all__ = ["judgment_table", "render", "render_junit", "render_junit_error", "render_markdown"]
