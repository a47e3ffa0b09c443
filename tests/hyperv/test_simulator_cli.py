"""The program itself: its options, the manage.py command, latency, and the docs that describe it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.hyperv.simulator.latency import REALISTIC_SECONDS, latency_table_markdown
from workers.hyperv.simulator.testing import REPO_ROOT, run_simulator

from .conftest import run_json

pytestmark = pytest.mark.integration


def test_the_docs_latency_table_is_the_one_in_the_code():
    docs = (Path(REPO_ROOT) / "README.md").read_text()
    table = docs.split("<!-- latency-table -->\n", 1)[1].split("\n<!-- /latency-table -->", 1)[0]
    assert table == latency_table_markdown()


def test_realistic_latency_sleeps_per_cmdlet_scaled_by_the_time_scale():
    with run_simulator(latency="realistic", time_scale=0.2) as sim:
        session = sim.session()
        started = time.monotonic()
        run_json(session, "New-VM -Name slow -NoVHD | Out-Null")
        elapsed = time.monotonic() - started
        assert elapsed >= (REALISTIC_SECONDS["New-VM"] + 0.6) * 0.2
        assert elapsed < (REALISTIC_SECONDS["New-VM"] + 0.6) * 0.2 + 1.0


def test_zero_latency_answers_at_once(simulator, unique):
    started = time.monotonic()
    run_json(simulator.session(), f"New-VM -Name '{unique}' -NoVHD | Start-VM")
    assert time.monotonic() - started < 3.0  # realistic: 0.6 + 2.5 + 4 seconds


def test_the_program_prints_one_listening_line_and_exits_0_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO_ROOT}
    command = [
        sys.executable,
        "-m",
        "workers.hyperv.simulator",
        "--port",
        "0",
        "--state-file",
        str(tmp_path / "s.json"),
    ]
    with subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True) as process:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:") and line.rstrip().endswith("/wsman")
        process.terminate()
        rest = process.stdout.read()
        assert process.wait(10) == 0 and rest == ""
    assert (tmp_path / "s.json").exists()


def test_manage_py_hvsim_forwards_its_arguments():
    result = subprocess.run(
        [sys.executable, "manage.py", "hvsim", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--cpu-vendor" in result.stdout and "--no-hyperv-role" in result.stdout


def test_bad_options_are_refused_with_a_message():
    result = subprocess.run(
        [sys.executable, "-m", "workers.hyperv.simulator", "--fault", '{"kind": "nope"}'],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "kind must be one of" in result.stderr


def test_the_simulator_never_imports_django():
    code = "import sys, workers.hyperv.simulator.server, workers.hyperv.simulator.cli; print('django' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
    )
    assert result.stdout.strip() == "False", result.stderr


def test_an_unreadable_state_file_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "workers.hyperv.simulator", "--state-file", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1 and "cannot start" in result.stderr
    assert path.read_text() == "{not json"
