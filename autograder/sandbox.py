"""Starting and talking to worker processes, inside a sandbox.

Modes (``--sandbox``):

``bwrap``
    bubblewrap: new user, pid, network, ipc and uts namespaces, uid 65534, all
    capabilities dropped, the whole file system read-only, ``/tmp`` empty, the
    work directory the only writable place, and the course's private folders
    (``reference/``, ``assignments/``, the cache and the results folder) replaced
    by empty tmpfs. Plus the rlimits below. This is the mode for real hand-ins.
``process``
    a plain child process with rlimits (CPU, data memory, file size, no core
    dumps), its own session, a clean environment, and no network when
    ``unshare -n`` works. It does NOT hide files: use it for trusted code
    (the reference, CI) or where bubblewrap is missing, and know the risk.
``none``
    like ``process`` but without network isolation; used for the reference.

``auto`` picks ``bwrap`` when a trial run succeeds, else ``process`` with a warning.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import (
    InstallationError,
    ProbeFailed,
    UsageError,
    WorkerCrashed,
    WorkerError,
    WorkerTimeout,
)
from .config import Limits
from .wire import WireError, decode

__all__ = ["SANDBOX_MODES", "Worker", "resolve_mode", "bwrap_works"]

log = logging.getLogger(__name__)

SANDBOX_MODES = ("auto", "bwrap", "process", "none")

_BWRAP_BASE = [
    "--unshare-all",
    "--unshare-user",
    "--uid",
    "65534",
    "--gid",
    "65534",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
]


@functools.cache
def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if exe is None:
        return False
    try:
        done = subprocess.run(
            [exe, *_BWRAP_BASE, "true"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.cache
def _unshare_net_works() -> bool:
    exe = shutil.which("unshare")
    if exe is None:
        return False
    try:
        done = subprocess.run([exe, "-n", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def resolve_mode(mode: str) -> str:
    if mode not in SANDBOX_MODES:
        raise UsageError(
            f"unknown sandbox mode {mode!r}", hint=f"use one of {SANDBOX_MODES}"
        )
    if mode == "auto":
        if bwrap_works():
            return "bwrap"
        log.warning(
            "bubblewrap is not usable here: workers run as plain processes "
            "that can read the course's private files (install bubblewrap)"
        )
        return "process"
    if mode == "bwrap" and not bwrap_works():
        raise InstallationError(
            "bubblewrap (bwrap) is missing or cannot create namespaces here",
            hint="install it (apt-get install bubblewrap) or pass --sandbox process",
        )
    return mode


def _rlimits(limits: Limits) -> None:
    """Runs in the child between fork and exec."""
    mib = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_mb * mib,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mib,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # TODO(#2): cap the number of processes (a cgroup pids controller): RLIMIT_NPROC
    # does not bind a grader that runs as root, so a fork bomb is stopped only by the
    # probe timeout and the CPU limit.


@dataclass
class _Capped:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output dropped]"
        return text


class Worker:
    """One worker process serving probe requests for one submission (or the reference).

    A worker that dies or hangs is killed; the next :meth:`call` starts a fresh one,
    so a crash costs only the request that caused it.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        mode: str,
        limits: Limits,
        hide: Sequence[Path] = (),
        data_root: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.mode = mode
        self.limits = limits
        self.hide = [p for p in hide if p.exists()]
        self.data_root = data_root
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.output = _Capped(limits.output_bytes)
        self.ready: dict[str, Any] = {}
        self.starts = 0
        self.start_seconds = 0.0
        #: set when loading the submission failed: it would fail the same way again
        self.start_failure: WorkerError | None = None
        #: the cell the worker was loading last (named in start-up failures)
        self.loading = ""
        self._next_id = 0

    # ---- lifecycle
    def _argv(self) -> list[str]:
        python = [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "autograder.worker",
            str(self.workdir),
        ]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir / "scratch"),
            "TMPDIR": str(self.workdir / "scratch"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": str(self.limits.threads),
            "MKL_NUM_THREADS": str(self.limits.threads),
            "MPLBACKEND": "Agg",
            "HF_HUB_OFFLINE": "1",
            # pretrained weights of the profile live under the data root (read-only)
            "TORCH_HOME": str((self.data_root or self.workdir / "scratch") / "torch"),
            "LANG": "C.UTF-8",
        }
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES"):
            if name in os.environ:
                env[name] = os.environ[name]
        if self.mode == "bwrap":
            argv = [shutil.which("bwrap") or "bwrap", *_BWRAP_BASE, "--clearenv"]
            # hide private folders (the whole course checkout, results), then bring
            # back read-only only what the worker runs from: the interpreter, the
            # venv, the autograder package and the data. /tmp is empty too, so the
            # same applies to a checkout or venv that lives there (as in CI).
            masks = [Path("/tmp"), *self.hide]
            binds = _covered(self._runtime_paths(), masks)
            for path in self.hide:
                argv += ["--tmpfs", str(path)]
            for path in binds:
                argv += ["--ro-bind", str(path), str(path)]
            for path in self.hide:
                if any(path.is_relative_to(b) and path != b for b in binds):
                    argv += ["--tmpfs", str(path)]
            argv += ["--bind", str(self.workdir), str(self.workdir)]
            if Path("/dev/nvidia0").exists():
                for dev in sorted(Path("/dev").glob("nvidia*")):
                    argv += ["--dev-bind", str(dev), str(dev)]
            for key, value in env.items():
                argv += ["--setenv", key, value]
            argv += ["--chdir", str(self.workdir / "scratch"), *python]
            self._env: dict[str, str] | None = None
            return argv
        self._env = env
        if self.mode == "process" and _unshare_net_works():
            return ["unshare", "-n", *python]
        return python

    def _runtime_paths(self) -> list[Path]:
        package = Path(__file__).resolve().parent
        paths = [Path(sys.prefix), Path(sys.base_prefix), package]
        paths.append(Path(os.path.realpath(sys.executable)).parent)
        if self.data_root is not None:
            paths.append(Path(self.data_root))
        return paths

    def start(self) -> None:
        self.close()
        started = time.perf_counter()
        (self.workdir / "out").mkdir(exist_ok=True)
        (self.workdir / "scratch").mkdir(exist_ok=True)
        argv = self._argv()
        self.lines = queue.Queue()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env,
            cwd=self.workdir / "scratch",
            start_new_session=True,
            preexec_fn=functools.partial(_rlimits, self.limits),
        )
        self.starts += 1
        threading.Thread(
            target=self._pump_lines, args=(self.proc, self.lines), daemon=True
        ).start()
        threading.Thread(
            target=self._pump_output, args=(self.proc,), daemon=True
        ).start()
        try:
            self.ready = self._read(self.limits.start_timeout_s, what="starting up")
        except WorkerError as exc:
            where = f" (loading {self.loading})" if self.loading else ""
            self.start_failure = type(exc)(exc.message + where)
            raise self.start_failure from exc
        finally:
            self.start_seconds += time.perf_counter() - started

    @staticmethod
    def _pump_lines(
        proc: subprocess.Popen[bytes], lines: queue.Queue[bytes | None]
    ) -> None:
        """Feed one process's protocol lines into its own queue (not a successor's)."""
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if len(line) <= 16 * 1024 * 1024:
                    lines.put(line)
        except (OSError, ValueError):
            pass  # the pipe was closed under us: the worker was killed
        lines.put(None)

    def _pump_output(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        try:
            while chunk := proc.stderr.read1(65536):
                self.output.feed(chunk)
        except (OSError, ValueError):
            pass  # closed while the worker was being killed

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests
    def _read(self, timeout: float, *, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise WorkerTimeout(f"gave up after {timeout:.0f} s while {what}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait() if self.proc else None
                self.close()
                raise WorkerCrashed(_describe_exit(code, what))
            try:
                reply: dict[str, Any] = json.loads(line)
            except ValueError:
                continue  # noise on the protocol channel is ignored, not trusted
            if isinstance(reply, dict) and "loading" in reply:
                self.loading = str(reply["loading"])[:100]
                continue
            if not isinstance(reply, dict):
                continue
            return reply

    def call(
        self, probe: str, *, seed: int, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        """Run one probe; return its decoded result or raise a :class:`WorkerError`."""
        if self.start_failure is not None:
            raise self.start_failure
        if not self.alive():
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self._next_id += 1
        rid = self._next_id
        request = json.dumps(
            {"id": rid, "probe": probe, "seed": seed, "kwargs": kwargs}
        )
        try:
            self.proc.stdin.write(request.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.close()
            raise WorkerCrashed("the worker closed its input") from exc
        while True:
            reply = self._read(
                timeout or self.limits.probe_timeout_s, what=f"running {probe}"
            )
            if reply.get("id") == rid:
                break
        if not reply.get("ok"):
            err = reply.get("error") or {}
            raise ProbeFailed(
                f"{err.get('type', 'Error')}: {err.get('message', '')}".strip(),
                trace=str(err.get("trace", "")),
            )
        try:
            return decode(
                reply["result"],
                self.workdir / "out" / f"{rid}.safetensors",
                max_bytes=self.limits.file_mb * 1024 * 1024,
            )
        except (WireError, KeyError, TypeError, ValueError) as exc:
            raise ProbeFailed(f"the probe's result could not be read: {exc}") from exc
        finally:
            (self.workdir / "out" / f"{rid}.safetensors").unlink(missing_ok=True)


def _covered(paths: Sequence[Path], masks: Sequence[Path]) -> list[Path]:
    """The paths that some mask hides, outermost first, none inside another."""
    found = sorted(
        {
            p.resolve()
            for p in paths
            if any(p.resolve().is_relative_to(m) for m in masks)
        },
        key=lambda p: len(p.parts),
    )
    kept: list[Path] = []
    for path in found:
        inside_kept = any(path.is_relative_to(k) for k in kept)
        if path not in masks and path.exists() and not inside_kept:
            kept.append(path)
    return kept


def _describe_exit(code: int | None, what: str) -> str:
    if code is None:
        return f"the worker stopped while {what}"
    if code < 0:
        sig = signal.Signals(-code).name
        why = {
            "SIGKILL": " (killed: memory or CPU limit?)",
            "SIGXCPU": " (CPU time limit)",
            "SIGSEGV": " (segmentation fault)",
        }.get(sig, "")
        return f"the worker died from {sig}{why} while {what}"
    if code == 137:
        return f"the worker was killed (exit 137, out of memory?) while {what}"
    return f"the worker exited with code {code} while {what}"
