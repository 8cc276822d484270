"""The ``rlgrade`` command line.

Library calls raise :class:`RlgradeError`; only :func:`main` turns errors into exit
codes: 0 when grading completed (whatever the score), 1 for a failed validation or
grading error, 2 for usage errors, 3 for a broken installation or missing data.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from . import __version__
from ._exceptions import RlgradeError, UsageError
from .config import PROFILES, GradeConfig, Paths
from .sandbox import SANDBOX_MODES

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

_profile = click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="tiny",
    show_default=True,
    help="Data profile: 'tiny' synthetic data on CPU, 'full' real data on GPU.",
)
_sandbox = click.option(
    "--sandbox",
    type=click.Choice(SANDBOX_MODES),
    default="auto",
    show_default=True,
    help="How student code is isolated (see README: Sandbox modes).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rlgrade")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Autograder for the representation-learning course exercises."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )


@cli.command()
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-a", "--assignment", required=True, help="Assignment id, e.g. w01_autoencoder."
)
@_profile
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("rlgrade-out"),
    show_default=True,
    help="Folder for results.json, feedback.md, fingerprint.json.",
)
@_sandbox
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Master seed of the probes (recorded in the fingerprint).",
)
def grade(
    submission: Path, assignment: str, profile: str, out: Path, sandbox: str, seed: int
) -> None:
    """Grade one hand-in (.ipynb, .py, or a folder/zip holding one)."""
    from .judge import grade as grade_one
    from .results import write_results

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".rlgrade-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"cannot write results to {out}: {exc.strerror or exc}",
            hint="pass --out a folder you can write to",
        ) from exc
    cfg = GradeConfig(
        assignment=assignment,
        profile=profile,
        sandbox=sandbox,
        seed=seed,
        hide=(out.resolve(),),
    )
    with console.status(f"grading {submission} ({assignment}, {profile})"):
        report = grade_one(submission, cfg, Paths.discover())
    files = write_results(report, out)
    table = Table(title=f"{assignment}: {submission}")
    for col in ("test", "item", "points", "status", "reason"):
        table.add_column(col, overflow="fold")
    for t in report.tests:
        status = (
            "[green]passed"
            if t.score == t.max_score and t.status == "passed"
            else ("[yellow]partial" if t.score > 0 else "[red]failed")
        )
        reason = t.output.splitlines()[0] if t.output else ""
        table.add_row(
            t.name, t.item, f"{t.score:.4g}/{t.max_score:g}", status, reason[:120]
        )
    console.print(table)
    if report.fatal:
        console.print(f"[red]not graded:[/red] {report.fatal}")
    for note in report.notes[:5]:
        console.print(f"[dim]note:[/dim] {note.splitlines()[0]}")
    console.print(
        f"[bold]score {report.score:.4g} / {report.max_score:g}[/bold]  "
        f"({report.timings.get('total', 0):.1f} s)  results: {files['results']}"
    )


@cli.command()
@click.argument("assignments", nargs=-1, required=True)
@_profile
@_sandbox
def validate(assignments: tuple[str, ...], profile: str, sandbox: str) -> None:
    """Reference earns full marks, template earns 0, every mutant loses points."""
    from .assignments import get_assignment
    from .validate import validate_assignment

    paths = Paths.discover()
    failed = 0
    for assignment_id in assignments:
        assignment = get_assignment(assignment_id, paths)
        cfg = GradeConfig(assignment=assignment_id, profile=profile, sandbox=sandbox)
        with console.status(f"validating {assignment_id}"):
            cases = validate_assignment(assignment, cfg, paths)
        table = Table(title=f"validate {assignment_id} ({profile})")
        for col in ("case", "expected", "score", "lost points on", "verdict"):
            table.add_column(col, overflow="fold")
        for case in cases:
            assert case.report is not None
            verdict = "[green]ok" if case.ok else f"[red]FAIL[/red] {case.detail}"
            table.add_row(
                case.name,
                case.expect,
                f"{case.report.score:.4g}/{case.report.max_score:g}",
                ", ".join(case.lost) or "-",
                verdict,
            )
            failed += not case.ok
        console.print(table)
    if failed:
        raise RlgradeError(f"{failed} validation case(s) failed")


@cli.command()
@click.argument("assignment")
@click.option(
    "--seeds",
    "k",
    type=click.IntRange(2, 100),
    default=5,
    show_default=True,
    help="Number of reference runs (K).",
)
@click.option(
    "--false-fail",
    type=click.FloatRange(1e-6, 0.5),
    default=0.01,
    show_default=True,
    help="Chosen probability that a correct solution lands below the band.",
)
@_profile
def calibrate(assignment: str, k: int, false_fail: float, profile: str) -> None:
    """Run the reference K times and store the performance band with the reference."""
    from .assignments import get_assignment
    from .calibrate import calibrate as run

    paths = Paths.discover()
    target = get_assignment(assignment, paths)
    cfg = GradeConfig(assignment=assignment, profile=profile)
    with console.status(f"calibrating {assignment} ({k} runs)"):
        band = run(
            target,
            cfg,
            paths,
            seeds=k,
            false_fail=false_fail,
            progress=lambda s, v: console.print(f"  seed {s}: {v:.3f}"),
        )
    loo = "n/a" if band.loo_false_fail is None else f"{band.loo_false_fail:.2f}"
    console.print(
        f"{band.metric}: mean {band.mean:.3f}, sd {band.std:.3f} "
        f"(K={len(band.values)}); "
        f"full credit from {band.lower:.3f}, none at {band.zero_at:.3f}; "
        f"false-fail {band.false_fail:g} (leave-one-out {loo}) -> {target.bands_file}"
    )


@cli.command()
@click.argument("assignments", nargs=-1)
@click.option(
    "--check", is_flag=True, help="Only report templates that are out of date."
)
def templates(assignments: tuple[str, ...], check: bool) -> None:
    """Generate student templates from the reference notebooks."""
    from .assignments import get_assignment, list_assignments
    from .templates import stale_files, write_template

    paths = Paths.discover()
    chosen = [get_assignment(a, paths) for a in assignments] or list_assignments(paths)
    stale = []
    for assignment in chosen:
        if check:
            stale += stale_files(assignment)
        else:
            for path in write_template(assignment):
                console.print(f"wrote {path.relative_to(paths.home)}")
    if stale:
        raise RlgradeError(
            "out-of-date templates: " + ", ".join(str(p) for p in stale),
            hint="run `rlgrade templates` and commit the result",
        )


@cli.group()
def data() -> None:
    """Datasets of the data profiles."""


@data.command("prepare")
@_profile
def data_prepare(profile: str) -> None:
    """Write the tiny synthetic datasets, or check that the full ones are present."""
    from .datasets import ensure_data

    root = ensure_data(profile, Paths.discover().data_root(profile))
    console.print(f"{profile} data ready in {root}")


@cli.command("list")
def list_cmd() -> None:
    """List the assignments."""
    from .assignments import list_assignments

    for a in list_assignments(Paths.discover()):
        console.print(f"{a.id:20} {a.title}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: library errors become exit codes here."""
    try:
        cli.main(args=argv, prog_name="rlgrade", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except RlgradeError as exc:
        err_console.print(exc.format(), markup=False)
        return exc.exit_code
    return 0


def _run() -> None:
    sys.exit(main())


__all__ = ["cli", "main"]
