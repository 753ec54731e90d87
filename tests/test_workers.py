"""Worker pools do not outlive the process that started them (detector.workers)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see the worker (Linux)")
def test_spawn_pool_workers_die_when_the_parent_is_killed(tmp_path):
    """kill -9 of a process with an idle pool: its spawned worker goes too (a plain spawn
    ProcessPoolExecutor's worker sleeps on forever, re-parented, holding its memory)."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import os, time
        from detector.workers import spawn_pool

        if __name__ == "__main__":
            with spawn_pool(1) as pool:
                print(pool.submit(os.getpid).result(), flush=True)
                time.sleep(120)
    """))
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        worker = int(parent.stdout.readline())
        assert worker != parent.pid and _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived its killed parent"
    finally:
        parent.kill()
        try:
            os.kill(worker, signal.SIGKILL)
        except (NameError, ProcessLookupError):
            pass


def test_die_with_parent_exits_at_once_when_the_parent_is_already_gone():
    """A worker that starts after its parent died (re-parented) exits before any work."""
    code = "from detector.workers import die_with_parent; die_with_parent(-1); print('still here')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 1 and "still here" not in r.stdout
