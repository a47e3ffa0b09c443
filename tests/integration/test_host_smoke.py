"""manage.py host_smoke against hvsim: a clean run, a run that fails at each step, a host the
doctor fails, and Ctrl-C mid-run; after every one of them the host holds nothing of the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.integration.harness import ROOT, database_url, host_for, wait_until
from workers.hyperv.simulator.testing import run_simulator

pytestmark = [pytest.mark.integration]

IMAGE = r"C:\NestlabImages\win2022-base.vhdx"
VM_ROOT = r"C:\Nestlab\Labs"


def smoke_traces(sim) -> list[str]:
    """Everything a smoke run could have left on the host."""
    state = sim.state()
    found = [vm["name"] for vm in state["vms"] if vm["name"].startswith("nestlab-smoke-")]
    found += [switch["name"] for switch in state["switches"] if switch["name"].startswith("nestlab-smoke-")]
    found += [disk["path"] for disk in state["disks"] if "nestlab-smoke-" in disk["path"]]
    found += [folder for folder in state["directories"] if "nestlab-smoke-" in folder]
    return found


def test_a_clean_run_times_every_step_and_leaves_nothing(db, settings, capsys):
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator() as sim:
        host_for(sim, "fresh")
        call_command("host_smoke", "fresh", "--base-image", IMAGE)
        assert smoke_traces(sim) == []
    out = capsys.readouterr().out
    for step in ("create", "start", "checkpoint", "restore", "stop", "delete"):
        assert any(line.startswith("OK") and f" {step} " in line and " s " in line for line in out.splitlines()), out
    assert "nothing left behind" in out and "fresh passed the smoke run" in out


@pytest.mark.parametrize(
    ("step", "cmdlet", "times", "after"),
    [
        ("create", "New-VM", 1, 0),
        ("start", "Start-VM", 1, 0),
        ("checkpoint", "Checkpoint-VM", 1, 1),  # the build's own clean checkpoint goes through
        ("restore", "Restore-VMSnapshot", 1, 0),
        ("stop", "Stop-VM", 2, 1),  # past restore's power-off: the guest shutdown and the power pull fail
        ("delete", "Remove-VM", 1, 0),
    ],
)
def test_a_fault_at_any_step_fails_the_run_and_still_leaves_nothing(db, settings, capsys, step, cmdlet, times, after):
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator() as sim:
        host_for(sim, "flaky")
        sim.add_fault("error", cmdlet=cmdlet, message="injected: the host said no", times=times, after=after)
        with pytest.raises(CommandError, match=f"failed at {step}"):
            call_command("host_smoke", "flaky", "--base-image", IMAGE)
        assert smoke_traces(sim) == []
    out = capsys.readouterr().out
    assert f"FAIL  {step}" in out and "injected: the host said no" in out
    assert "nothing left behind" in out


def test_a_host_the_doctor_fails_is_refused_before_anything_is_built(db, settings, capsys):
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator(no_dep=True) as sim:
        host_for(sim, "sick")
        with pytest.raises(CommandError, match=r"Refused: The doctor fails sick \(dep\)"):
            call_command("host_smoke", "sick", "--base-image", IMAGE)
        assert smoke_traces(sim) == []
        assert not sim.state()["vms"]


def test_ctrl_c_mid_run_cleans_up(transactional_db):
    with run_simulator() as sim:
        host_for(sim, "interrupted")
        sim.add_fault("hang", cmdlet="Start-VM", seconds=30, times=1)
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "NESTLAB_DRIVER_FACTORY": "workers.services.hostcalls.winrm_driver",
        }
        process = subprocess.Popen(
            [sys.executable, "manage.py", "host_smoke", "interrupted", "--base-image", IMAGE],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until(
                lambda: not sim.faults() or sim.faults()[0]["fired"] > 0, timeout=60, what="the run reaches Start-VM"
            )
            assert smoke_traces(sim)  # the lab exists: there is something to clean up
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 1, out
        assert "interrupted" in out and "nothing left behind" in out, out
        assert smoke_traces(sim) == []
