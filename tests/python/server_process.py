"""Shared helper of the server test files: start `hearth serve` on a free loopback port and stop it
with SIGTERM (which must drain and exit 0)."""
import os
import signal
import subprocess
import time

import requests

BIN = os.environ.get("HEARTH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/hearth"))


def start_server(extra, timeout=60):
    """Starts hearth serve with the extra arguments on a free port; returns (process, base_url)."""
    proc = subprocess.Popen([BIN, "serve", "--port", "0", "-t", "2"] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    assert "listening on http://" in line, line
    base = line.split("listening on ")[1].split()[0]
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            pass
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not become healthy")


def stop_server(proc):
    """SIGTERM, then the process must exit 0 within 40 s (killed otherwise)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
