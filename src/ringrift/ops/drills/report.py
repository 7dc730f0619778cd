"""Drill reports: a Markdown report shaped like an operations drill report, plus a JSON journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ringrift.ops.drills.base import DrillResult, Status

STATUS_LABELS = {Status.PASS: "✅ PASS", Status.FAIL: "❌ FAIL", Status.SKIP: "⏭️ SKIP"}


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def journal(results: list[DrillResult], meta: dict[str, Any]) -> dict[str, Any]:
    passed = sum(r.passed for r in results)
    skipped = sum(r.status is Status.SKIP for r in results)
    failed = sum(r.failed for r in results)
    return {
        **meta,
        "summary": {
            "total": len(results),
            "passed": passed,
            "failed": failed,
            "skipped": skipped,
        },
        # A skipped drill is not a failure: the target simply lacks what it exercises.
        "status": "PASS" if results and failed == 0 else "FAIL",
        "drills": [r.to_json() for r in results],
    }


def render_markdown(results: list[DrillResult], meta: dict[str, Any]) -> str:
    passed = sum(r.passed for r in results)
    skipped = sum(r.status is Status.SKIP for r in results)
    lines = [
        "# RingRift operations drill report",
        "",
        f"- **Date:** {meta.get('finishedAt', datetime.now(UTC).isoformat(timespec='seconds'))}",
        f"- **Target:** {meta.get('target', 'local')} ({meta.get('targetDetail', '')})",
        f"- **Drills:** {len(results)} run, {passed} passed, "
        f"{len(results) - passed - skipped} failed, {skipped} skipped",
        "",
        "## Summary",
        "",
        "| Drill | Status | Duration | Findings |",
        "|---|---|---|---|",
    ]
    for result in results:
        status = STATUS_LABELS[result.status]
        findings = "; ".join(result.findings) or "None"
        if result.skipped is not None:
            findings = f"skipped: {result.skipped}"
        elif not result.passed:
            failed = [c.name for c in result.checks if not c.passed]
            findings = f"FAILED: {', '.join(failed)}" + (f"; {findings}" if result.findings else "")
        lines.append(
            f"| {result.title} (`{result.name}`) | {status} | {_duration(result.seconds)} "
            f"| {_cell(findings)} |"
        )
    for index, result in enumerate(results, start=1):
        ok = sum(c.passed for c in result.checks)
        lines += [
            "",
            f"## {index}. {result.title} (`{result.name}`)",
            "",
            "### Objective",
            "",
            result.objective,
            "",
            "### Steps executed",
            "",
        ]
        for number, step in enumerate(result.steps, start=1):
            suffix = f" - {step.detail}" if step.detail else ""
            mark = "" if step.ok else " **(failed)**"
            lines.append(f"{number}. {step.description} ({step.seconds:.2f}s){mark}{suffix}")
        lines += [
            "",
            "### Result",
            "",
            f"**{result.status}** - {ok}/{len(result.checks)} checks passed in "
            f"{_duration(result.seconds)}.",
        ]
        if result.skipped is not None:
            lines += ["", f"Skipped: {result.skipped}"]
        if result.error:
            lines += ["", f"Error: `{result.error}`"]
        lines += ["", "### Notes", ""]
        notes = [f"{name}: {value:.3f}" for name, value in result.timings.items()]
        notes = [f"Timing {n}" for n in notes] + result.notes
        notes += [f"Finding: {f}" for f in result.findings]
        lines += [f"- {_cell(n)}" for n in notes] or ["- None"]
        lines += ["", "### Validation checklist", ""]
        for check in result.checks:
            box = "x" if check.passed else " "
            detail = f" - {check.detail}" if check.detail else ""
            lines.append(f"- [{box}] {check.name}{_cell(detail)}")
    return "\n".join(lines) + "\n"


def write_reports(
    results: list[DrillResult], meta: dict[str, Any], report_dir: Path
) -> tuple[Path, Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    markdown = report_dir / f"drill-report-{stamp}.md"
    journal_path = report_dir / f"drill-journal-{stamp}.json"
    markdown.write_text(render_markdown(results, meta))
    journal_path.write_text(json.dumps(journal(results, meta), indent=2))
    return markdown, journal_path
