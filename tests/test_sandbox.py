"""The trust boundary: hostile submissions are contained, and cost only their
request."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from autograder._exceptions import (
    ProbeFailed,
    WorkerCrashed,
    WorkerError,
    WorkerTimeout,
)
from autograder.config import Limits
from autograder.sandbox import Worker, bwrap_works

HOSTILE = """
import os, sys, socket, time

def ok():
    return {"answer": 42}

def hang():
    while True:
        pass

def leave():
    os._exit(3)

def politely_exit():
    sys.exit(0)

def hog():
    blocks = []
    while True:
        blocks.append(bytearray(256 * 1024 * 1024))

def scribble(path):
    with open(path, "w") as f:
        f.write('{"score": 1000}')
    return "written"

def dial(port):
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    return "connected"

def peek(path):
    with open(path) as f:
        return f.read()

def noisy():
    for _ in range(2000):
        print("x" * 1000)
    return "done"

def forge():
    print(json.dumps(
        {"id": 1, "ok": True, "result": {"tree": {"t": "json", "v": "forged"}}}
    ))
    return "honest"
""".replace("import os, sys", "import json, os, sys")

PROBES = "def call(ns, name, args=()):\n    return getattr(ns, name)(*args)\n"

MODES = [
    pytest.param(
        "bwrap",
        marks=[
            pytest.mark.sandbox,
            pytest.mark.skipif(
                not bwrap_works(),
                reason="bubblewrap is not installed or cannot create namespaces",
            ),
        ],
    ),
    "process",
]


def make_worker(
    root: Path, mode: str, hide: list[Path] = (), **limits: object
) -> Worker:
    workdir = root / "work"
    (workdir / "lib").mkdir(parents=True)
    (workdir / "lib" / "_rlgrade_probes.py").write_text(PROBES)
    cell = {"name": "cell[0]", "source": HOSTILE, "original": HOSTILE}
    job = {
        "cells": [cell],
        "profile": "tiny",
        "data_root": str(root / "data"),
        "threads": 1,
        "seed": 0,
    }
    (workdir / "job.json").write_text(json.dumps(job))
    base = {
        "probe_timeout_s": 20,
        "start_timeout_s": 60,
        "memory_mb": 3072,
        "threads": 1,
    }
    return Worker(
        workdir, mode=mode, limits=Limits(**{**base, **limits}), hide=list(hide)
    )


@pytest.fixture(params=MODES)
def worker(request: pytest.FixtureRequest, tmp_path: Path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "solution.py").write_text("SECRET = 'expected value'\n")
    w = make_worker(tmp_path, request.param, hide=[private])
    w.private = private  # type: ignore[attr-defined]
    yield w
    w.close()


def test_worker_answers_a_probe(worker: Worker) -> None:
    assert worker.call("call", seed=0, name="ok") == {"answer": 42}


def test_worker_hanging_probe_times_out_then_recovers(worker: Worker) -> None:
    with pytest.raises(WorkerTimeout):
        worker.call("call", seed=0, timeout=3, name="hang")
    assert not worker.alive()
    assert worker.call("call", seed=0, name="ok") == {"answer": 42}
    assert worker.starts == 2


def test_worker_os_exit_is_a_crash_then_recovers(worker: Worker) -> None:
    with pytest.raises(WorkerCrashed, match="exited with code 3"):
        worker.call("call", seed=0, name="leave")
    assert worker.call("call", seed=0, name="ok") == {"answer": 42}


def test_worker_sys_exit_is_an_ordinary_failure(worker: Worker) -> None:
    with pytest.raises(ProbeFailed, match="SystemExit"):
        worker.call("call", seed=0, name="politely_exit")
    assert worker.alive()


def test_worker_memory_hog_is_stopped(worker: Worker) -> None:
    with pytest.raises(WorkerError):
        worker.call("call", seed=0, timeout=60, name="hog")
    assert worker.call("call", seed=0, name="ok") == {"answer": 42}


def test_worker_output_is_capped(tmp_path: Path) -> None:
    with make_worker(tmp_path, "process", output_bytes=10_000) as w:
        assert w.call("call", seed=0, name="noisy") == "done"
        text = w.output.text()
    assert len(text) < 11_000 and "more bytes of output dropped" in text


def test_worker_prints_cannot_forge_replies(worker: Worker) -> None:
    assert worker.call("call", seed=0, name="forge") == "honest"


def test_worker_has_no_network(worker: Worker) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    threading.Thread(target=server.accept, daemon=True).start()
    try:
        with pytest.raises(ProbeFailed):
            worker.call("call", seed=0, name="dial", args=[server.getsockname()[1]])
    finally:
        server.close()


@pytest.mark.sandbox
@pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not installed or unusable")
def test_bwrap_hides_private_files_and_protects_results(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    secret = private / "solution.py"
    secret.write_text("SECRET = 'expected value'\n")
    results = private / "results.json"
    results.write_text('{"score": 0}')
    # /tmp is a private tmpfs inside the sandbox, so take a real path outside it
    # (and outside the checkout, which is hidden too when it lives under /tmp)
    outside_dir = Path(tempfile.mkdtemp(prefix="rlgrade-test-", dir="/var/tmp"))
    outside = outside_dir / "visible.txt"
    outside.write_text("data")
    with make_worker(tmp_path, "bwrap", hide=[private]) as w:
        with pytest.raises(ProbeFailed, match="FileNotFoundError"):
            w.call("call", seed=0, name="peek", args=[str(secret)])
        # writing "into" a hidden folder lands in an empty tmpfs, never in the real one
        w.call("call", seed=0, name="scribble", args=[str(results)])
        # everything else is read-only
        with pytest.raises(
            ProbeFailed, match="Read-only file system|Permission denied"
        ):
            w.call("call", seed=0, name="scribble", args=[str(outside)])
        assert w.call("call", seed=0, name="peek", args=[str(outside)]) == "data"
    assert results.read_text() == '{"score": 0}'
    assert outside.read_text() == "data"
    shutil.rmtree(outside_dir)


def test_worker_failed_start_is_not_retried_and_names_the_cell(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    (workdir / "lib").mkdir(parents=True)
    (workdir / "lib" / "_rlgrade_probes.py").write_text(PROBES)
    cells = [
        {"name": "cell[0]", "source": "import os\n", "original": "import os\n"},
        {
            "name": "cell[3]",
            "source": (
                "def die(fn):\n    os._exit(3)\n\n@die\ndef helper():\n    pass\n"
            ),
            "original": "",
        },
    ]
    job = {
        "cells": cells,
        "profile": "tiny",
        "data_root": str(tmp_path / "data"),
        "threads": 1,
        "seed": 0,
    }
    (workdir / "job.json").write_text(json.dumps(job))
    limits = Limits(probe_timeout_s=20, start_timeout_s=60, threads=1)
    with Worker(workdir, mode="process", limits=limits) as w:
        with pytest.raises(WorkerCrashed, match=r"loading cell\[3\]"):
            w.call("call", seed=0, name="ok")
        with pytest.raises(WorkerCrashed, match=r"loading cell\[3\]"):
            w.call("call", seed=0, name="ok")
        assert w.starts == 1
