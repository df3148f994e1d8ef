"""Worker pools: ``-w 1`` runs in this process; pool workers die with their parent and ignore Ctrl-C."""

from __future__ import annotations

import json
import multiprocessing.process
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from oais_preserve.cli import main

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and process groups")


@pytest.fixture
def started_processes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the child processes started from now on (any start method, any pool)."""
    started: list[str] = []
    original: Callable[[Any], None] = multiprocessing.process.BaseProcess.start

    def start(process: Any) -> None:
        started.append(process.name)
        original(process)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", start)
    return started


def test_one_worker_means_no_subprocess(
    fonds_store: Path, tmp_path: Path, started_processes: list[str]
) -> None:
    out = tmp_path / "out"
    args = ["handover", "P08", str(out), "--store", str(fonds_store), "--sender", "Sở Nội vụ", "--json"]
    written = CliRunner().invoke(main, [*args, "-w", "1"])
    assert written.exit_code == 0, written.output
    (result,) = json.loads(written.output)["handovers"]
    checked = CliRunner().invoke(main, ["verify-handover", result["path"], "-w", "1", "--json"])
    assert checked.exit_code == 0, checked.output
    assert started_processes == []
    # and the check itself can fail: two workers do start processes
    assert CliRunner().invoke(main, ["verify-handover", result["path"], "-w", "2"]).exit_code == 0
    assert started_processes


_BUSY_POOL = r"""
    import multiprocessing, sys, time
    from pathlib import Path
    from oais_preserve.executors import open_executor

    def busy(flag: str) -> None:
        Path(flag).touch()
        time.sleep(60)

    if __name__ == "__main__":
        try:
            with open_executor(3) as pool:  # two workers busy, one idle
                flags = [Path(sys.argv[1], str(i)) for i in range(2)]
                futures = [pool.submit(busy, str(flag)) for flag in flags]
                while not all(flag.exists() for flag in flags):
                    time.sleep(0.01)
                print(*(p.pid for p in multiprocessing.active_children()), flush=True)
                if sys.argv[2] == "in-the-body":
                    for future in futures:
                        future.result()
                # else the body ends here and the pool waits for its work on the way out
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
"""


def _start_busy_pool(tmp_path: Path, waits: str = "in-the-body") -> tuple[subprocess.Popen[str], list[int]]:
    """A process with a pool of three workers, two of them busy: (the process, the workers)."""
    script = tmp_path / "pool.py"
    script.write_text(textwrap.dedent(_BUSY_POOL), encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), waits],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal job
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert child.stdout is not None
    workers = [int(pid) for pid in child.stdout.readline().split()]
    assert len(workers) == 3, workers
    return child, workers


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its reaper has not looked yet


@linux_only
def test_pool_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    child, workers = _start_busy_pool(tmp_path)
    with child:  # closes the pipes, which live workers would hold open too
        child.kill()  # kill -9: no clean-up code runs in the parent
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "pool workers outlived their parent"


@linux_only
@pytest.mark.parametrize("waits", ["in-the-body", "at-shutdown"])
def test_ctrl_c_stops_the_pool_without_worker_tracebacks(waits: str, tmp_path: Path) -> None:
    child, workers = _start_busy_pool(tmp_path, waits)
    started = time.monotonic()
    os.killpg(child.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "interrupted" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert time.monotonic() - started < 20  # the busy workers were stopped, not waited for
    assert not any(map(_alive, workers))
