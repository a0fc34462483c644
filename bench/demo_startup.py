"""How long `taskmaster demo` takes until its page answers (the issue asks: within 10 s).

Starts `python -m bot.cli demo --port N` as a subprocess on a fresh data folder, polls
`GET /` until it answers 200, prints the seconds from start, then stops the demo with
SIGINT (as Ctrl-C would) and checks that it exits cleanly. Until `taskmaster demo` is
wired in bot/cli.py it falls back to `python -m bot.demo`, and says so.

    .venv/bin/python bench/demo_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 10.0  # seconds the issue allows
GIVE_UP = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


COMMAND = ["-m", "bot.cli", "demo", "--port", "{port}"]  # `{port}` is filled in per run


def one_start(argv: list[str], port: int, data_dir: Path) -> float:
    """Seconds from spawning `argv` until GET / answers 200 on `port`."""
    env = {**os.environ, "TASKMASTER_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=data_dir.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        while time.perf_counter() - started < GIVE_UP:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the demo exited with {process.returncode}:\n{err}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"no answer from {url} within {GIVE_UP:.0f} s")
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError("the demo did not stop within 30 s of SIGINT") from None
    if process.returncode != 0 or b"Traceback" in err:
        raise RuntimeError(f"unclean stop ({process.returncode}):\n{err.decode()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times: list[float] = []
    for _ in range(args.runs):
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="demo-startup-") as scratch:
            argv = [sys.executable, *(part.format(port=port) for part in COMMAND)]
            times.append(one_start(argv, port, Path(scratch) / "data"))
    print(f"command: python {' '.join(COMMAND)} (a fresh data dir each run)")
    print(f"runs: {', '.join(f'{t:.2f}' for t in times)} s")
    median = statistics.median(times)
    verdict = "within" if median <= LIMIT else "OVER"
    print(f"demo page served in {median:.2f} s (median of {len(times)}; {verdict} {LIMIT:.0f} s)")
    return 0 if median <= LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
