"""Writing a grade: Gradescope ``results.json``, a feedback page, the fingerprint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .judge import GradeReport

__all__ = ["gradescope_results", "feedback_markdown", "write_results"]


def gradescope_results(report: GradeReport) -> dict[str, Any]:
    """The report in Gradescope's autograder results schema."""
    output = []
    if report.fatal:
        output.append(report.fatal)
    output.extend(report.notes)
    return {
        "score": report.score,
        "max_score": report.max_score,
        "execution_time": round(report.timings.get("total", 0.0), 2),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "output": "\n\n".join(output),
        "tests": [
            {
                "name": t.name,
                "score": t.score,
                "max_score": t.max_score,
                "status": t.status,
                "output": t.output,
                "tags": t.tags or [t.item],
                "visibility": "visible",
                "extra_data": {"tier": t.tier, "seconds": round(t.seconds, 3)},
            }
            for t in report.tests
        ],
        "extra_data": {
            "assignment": report.assignment,
            "profile": report.profile,
            "by_item": {
                k: {"score": v[0], "max_score": v[1]}
                for k, v in report.by_item().items()
            },
            "timings": {k: round(v, 3) for k, v in report.timings.items()},
        },
    }


def feedback_markdown(report: GradeReport) -> str:
    lines = [
        f"# Feedback: {report.assignment}",
        "",
        f"**Score: {report.score:g} / {report.max_score:g}**",
        "",
    ]
    if report.fatal:
        lines += ["## Your hand-in could not be graded", "", report.fatal, ""]
    lines += ["## Per item", "", "| item | points |", "|---|---|"]
    for item, (got, of) in report.by_item().items():
        lines.append(f"| `{item}` | {got:g} / {of:g} |")
    lines += ["", "## Tests", ""]
    for t in report.tests:
        mark = (
            "passed"
            if t.status == "passed" and t.score == t.max_score
            else ("partial" if t.score > 0 else "failed")
        )
        lines.append(
            f"- **{t.name}** (`{t.item}`, {t.score:g}/{t.max_score:g}, {mark})"
        )
        if t.output:
            lines += [
                "",
                "  ```",
                *["  " + ln for ln in t.output.splitlines()],
                "  ```",
                "",
            ]
    if report.notes:
        lines += ["", "## Notes on your notebook", ""]
        for note in report.notes:
            lines += ["```", note, "```", ""]
    return "\n".join(lines) + "\n"


def write_results(report: GradeReport, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "results": out / "results.json",
        "feedback": out / "feedback.md",
        "fingerprint": out / "fingerprint.json",
    }
    _atomic(files["results"], json.dumps(gradescope_results(report), indent=2))
    _atomic(files["feedback"], feedback_markdown(report))
    _atomic(
        files["fingerprint"], json.dumps(report.fingerprint, indent=2, sort_keys=True)
    )
    return files


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
