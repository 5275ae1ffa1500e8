"""``initlab serve`` on the command line: loopback by default, a warning for any other address, a
taken port in one line."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from initlab.cli import main


def test_help_lists_the_options():
    res = CliRunner().invoke(main, ["serve", "--help"])
    assert res.exit_code == 0
    for opt in ("--port", "--host", "--open", "--max-pages"):
        assert opt in res.output
    assert "serve" in CliRunner().invoke(main, ["--help"]).output


def _taken_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def test_taken_port_is_one_line_without_traceback():
    s, port = _taken_port()
    try:
        res = CliRunner().invoke(main, ["serve", "--port", str(port)])
    finally:
        s.close()
    assert res.exit_code == 1
    assert f"port: got {port} on 127.0.0.1" in res.output and "allowed:" in res.output
    assert "Traceback" not in res.output


def test_another_host_warns():
    s, port = _taken_port()
    try:
        res = CliRunner().invoke(main, ["serve", "--host", "127.0.0.2", "--port", str(port), "--max-pages", "0"])
    finally:
        s.close()
    assert "warning: binding 127.0.0.2" in res.output and "no login" in res.output
    assert "max_pages: got 0" in res.output and res.exit_code == 1


@pytest.mark.slow
def test_serves_on_loopback_by_default_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "initlab", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert line.startswith("initlab playground: http://127.0.0.1:"), line
        url = line.split()[2]
        import urllib.request

        end = time.monotonic() + 30
        while True:
            try:
                assert b"initlab playground" in urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
