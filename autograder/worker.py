"""The untrusted side: a process that loads a submission's definitions and answers
probes.

Run as ``python -m autograder.worker WORKDIR`` inside the sandbox. The judge writes
one JSON request per line to stdin and reads one JSON reply per line from the
original stdout; the submission's own prints go to stderr, which the judge caps.
Results travel through :mod:`autograder.wire` (safetensors + JSON), never pickle.
"""

from __future__ import annotations

import importlib.util
import json
import linecache
import os
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any, TextIO

CELL_PREFIX = "cell["


def _student_trace(exc: BaseException, limit: int = 4000) -> str:
    """The traceback frames that point into the submission (or its helper module)."""
    frames = traceback.extract_tb(exc.__traceback__)
    keep = [
        f
        for f in frames
        if f.filename.startswith(CELL_PREFIX) or f.filename.endswith("utils.py")
    ]
    if not keep:
        return ""  # the message alone says it all; no frames of the student's to show
    lines = traceback.format_list(keep) + traceback.format_exception_only(
        type(exc), exc
    )
    text = "".join(lines)
    return text if len(text) <= limit else text[: limit - 20] + "\n... (truncated)"


def load_cells(
    cells: list[dict[str, Any]], module: types.ModuleType, out: TextIO | None = None
) -> list[dict[str, str]]:
    """Execute the kept definitions cell by cell; a failing cell costs only its
    names."""
    errors = []
    for cell in cells:
        name = cell["name"]
        # tracebacks show the student's original cell text
        original = cell["original"].splitlines(keepends=True)
        linecache.cache[name] = (len(cell["original"]), None, original, name)
        if out is not None:
            _send(out, {"loading": name})  # so a crash here can be blamed on this cell
        try:
            code = compile(cell["source"], name, "exec")
            exec(code, module.__dict__)
        except BaseException as exc:  # noqa: B036 - student code may raise SystemExit
            errors.append(
                {"cell": name, "type": type(exc).__name__, "trace": _student_trace(exc)}
            )
    return errors


def _send(out: TextIO, obj: dict[str, Any]) -> None:
    from autograder.wire import dumps

    out.write(dumps(obj) + "\n")
    out.flush()


def main(workdir: Path) -> int:
    job = json.loads((workdir / "job.json").read_text())

    # ==== protocol channels: keep private copies, give the submission harmless ones
    proto_in = os.fdopen(os.dup(0), "r")
    proto_out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)

    # ==== environment the course notebooks expect
    import torch

    torch.set_num_threads(int(job["threads"]))
    from autograder import datasets, probing, wire

    data_root = Path(job["data_root"])
    datasets.install(job["profile"], data_root)
    scratch = workdir / "scratch"
    os.chdir(scratch)
    lib = workdir / "lib"
    sys.path.insert(0, str(lib))
    probing.set_context(
        probing.Context(job["profile"], data_root, scratch, int(job["seed"]))
    )

    # ==== the submission, as a module named like the notebook's __main__
    module = types.ModuleType("submission")
    module.__file__ = str(scratch / "submission.py")
    sys.modules["submission"] = module
    load_errors = load_cells(job["cells"], module, proto_out)

    spec = importlib.util.spec_from_file_location(
        "_rlgrade_probes", lib / "_rlgrade_probes.py"
    )
    assert spec and spec.loader
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)

    defined = sorted(k for k in vars(module) if not k.startswith("__"))
    _send(proto_out, {"ready": True, "defined": defined, "load_errors": load_errors})

    # ==== request loop
    out_dir = workdir / "out"
    for line in proto_in:
        req = json.loads(line)
        rid = int(req["id"])
        started = time.perf_counter()
        try:
            fn = getattr(probes, req["probe"])
            probing.seed_everything(int(req["seed"]))
            result = fn(module, **req.get("kwargs", {}))
            skeleton = wire.encode(result, out_dir / f"{rid}.safetensors")
            reply = {"id": rid, "ok": True, "result": skeleton}
        except BaseException as exc:  # noqa: B036 - SystemExit from student code is a failure
            if isinstance(exc, KeyboardInterrupt):
                raise
            reply = {
                "id": rid,
                "ok": False,
                "error": {
                    "type": type(exc).__name__,
                    "message": str(exc)[:2000],
                    "trace": _student_trace(exc),
                },
            }
        reply["seconds"] = time.perf_counter() - started
        _send(proto_out, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
