"""Injected faults, power drift, and the control API."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from requests.exceptions import ConnectionError as RequestsConnectionError
from winrm.exceptions import WinRMTransportError

from workers.hyperv.simulator.testing import SimulatorFailed, run_simulator

from .conftest import run_error, run_json

pytestmark = pytest.mark.integration


@pytest.fixture
def sim():
    """A simulator per test: faults and outages must not leak into other tests."""
    with run_simulator(seed=7) as handle:
        yield handle


def test_an_error_fault_fails_the_named_cmdlet_n_times_then_stops(sim):
    session = sim.session()
    sim.add_fault("error", cmdlet="New-VM", message="Injected: the host is busy.", times=2)
    for _ in range(2):
        assert "Injected: the host is busy." in run_error(session, "New-VM -Name x -NoVHD")
    run_json(session, "New-VM -Name x -NoVHD | Out-Null")
    assert [vm["name"] for vm in sim.state()["vms"]] == ["x"]
    assert sim.faults() == []


def test_an_after_fault_lets_the_first_calls_through(sim):
    session = sim.session()
    sim.add_fault("error", cmdlet="New-VM", message="Injected: the third one.", times=1, after=2)
    run_json(session, "New-VM -Name a -NoVHD | Out-Null")
    run_json(session, "New-VM -Name b -NoVHD | Out-Null")
    assert "Injected: the third one." in run_error(session, "New-VM -Name c -NoVHD")
    assert sorted(vm["name"] for vm in sim.state()["vms"]) == ["a", "b"]
    with pytest.raises(SimulatorFailed, match="after must be an integer"):
        sim.add_fault("error", cmdlet="New-VM", after=-1)


def test_the_checkpoint_merge_after_remove_vm_holds_the_disks_for_a_while():
    with run_simulator(merge_seconds=2) as merging:
        session = merging.session()
        run_json(
            session,
            "New-Item -ItemType Directory -Path C:\\M -Force | Out-Null\n"
            "New-VHD -Path C:\\M\\m.vhdx -SizeBytes 1GB | Out-Null\n"
            "New-VM -Name m -VHDPath C:\\M\\m.vhdx | Out-Null\n"
            "Checkpoint-VM -Name m -SnapshotName one\n"
            "Remove-VM -Name m -Force",
        )
        held = run_error(session, "Remove-Item -LiteralPath C:\\M\\m.vhdx -Force")
        assert "being used by another process" in held
        time.sleep(2.2)
        run_json(session, "Remove-Item -LiteralPath C:\\M\\m.vhdx -Force")


def test_a_probability_fault_fails_some_calls_and_not_others(sim):
    session = sim.session()
    sim.add_fault("error", cmdlet="Get-VMHost", probability=0.5)
    outcomes = {session.run_ps("Get-VMHost | Out-Null").status_code for _ in range(20)}
    assert outcomes == {0, 1}


def test_a_hang_fault_blocks_the_cmdlet_for_the_given_time(sim):
    sim.add_fault("hang", cmdlet="Get-VM", seconds=1.0, times=1)
    started = time.monotonic()
    assert sim.session().run_ps("Get-VM | Out-Null").status_code == 0
    assert time.monotonic() - started >= 1.0


def test_a_hang_without_seconds_lasts_until_the_command_is_signalled(sim):
    import winrm

    sim.add_fault("hang", cmdlet="Get-VM")
    protocol = winrm.Protocol(
        sim.url,
        username=sim.user,
        password=sim.password,
        transport="plaintext",
        operation_timeout_sec=1,
        read_timeout_sec=3,
    )
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "powershell -Command Get-VM")
    from winrm.exceptions import WinRMOperationTimeoutError

    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, command)
    protocol.cleanup_command(shell, command)  # terminate
    protocol.close_shell(shell)
    sim.clear_faults()
    assert sim.session().run_ps("Get-VM | Out-Null").status_code == 0


def test_a_drop_fault_closes_the_connection_without_an_answer(sim):
    sim.add_fault("drop", wsman_action="Create", times=1)
    with pytest.raises((RequestsConnectionError, WinRMTransportError)):
        sim.session().run_ps("1")
    assert sim.session().run_ps("1").status_code == 0


def test_a_drop_fault_on_a_cmdlet_applies_the_change_but_loses_the_answer(sim):
    sim.add_fault("drop", cmdlet="New-VM", times=1)
    with pytest.raises((RequestsConnectionError, WinRMTransportError)):
        sim.session().run_ps("New-VM -Name half-done -NoVHD | Out-Null")
    assert [vm["name"] for vm in sim.state()["vms"]] == ["half-done"]


def test_an_http500_fault_answers_500(sim):
    sim.add_fault("http500", times=1)
    with pytest.raises(WinRMTransportError) as error:
        sim.session().run_ps("1")
    assert error.value.code == 500


def test_a_slow_fault_delays_every_request_until_cleared(sim):
    sim.add_fault("slow", seconds=0.2)
    started = time.monotonic()
    sim.session().run_ps("1")
    assert time.monotonic() - started >= 1.0  # five SOAP requests, each 0.2 s late
    sim.clear_faults()
    started = time.monotonic()
    sim.session().run_ps("1")
    assert time.monotonic() - started < 0.9


def test_an_outage_refuses_connections_then_listens_again_on_the_same_port(sim):
    sim.outage(1.0)
    time.sleep(0.3)
    with pytest.raises(RequestsConnectionError):
        requests.post(sim.url, data=b"", timeout=2)
    assert wait_until_answering(sim, 10) == b"back\r\n"


def wait_until_answering(sim, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return sim.session().run_ps("'back'").std_out
        except (RequestsConnectionError, WinRMTransportError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_reload_restores_the_saved_state_and_forgets_shells(sim):
    import winrm

    run_json(sim.session(), "New-VM -Name kept -NoVHD | Out-Null")
    protocol = winrm.Protocol(sim.url, username=sim.user, password=sim.password, transport="plaintext")
    shell = protocol.open_shell()
    sim.reload()
    from winrm.exceptions import WSManFaultError

    with pytest.raises(WSManFaultError):
        protocol.run_command(shell, "hostname")
    assert [vm["name"] for vm in sim.state()["vms"]] == ["kept"]


def test_guest_shutdown_turns_a_running_vm_off_behind_the_callers_back(sim):
    run_json(sim.session(), "New-VM -Name drifty -NoVHD | Start-VM")
    (vm_id,) = sim.guest_shutdown("drifty")
    assert run_json(sim.session(), "(Get-VM drifty).State.ToString() | ConvertTo-Json") == "Off"
    assert sim.state()["vms"][0]["id"] == vm_id


def test_faults_from_the_command_line_are_active_at_start():
    with run_simulator(faults=[{"kind": "error", "cmdlet": "Get-VM", "message": "cli fault", "times": 1}]) as sim:
        assert "cli fault" in run_error(sim.session(), "Get-VM")
        assert sim.session().run_ps("Get-VM").status_code == 0


def test_bad_fault_rules_are_rejected(sim):
    with pytest.raises(SimulatorFailed, match="400"):
        sim.add_fault("explode", cmdlet="Get-VM")
    with pytest.raises(SimulatorFailed, match="needs a cmdlet"):
        sim.add_fault("error")


def test_a_hung_cmdlet_does_not_block_other_clients(sim):
    sim.add_fault("hang", cmdlet="Get-VMSwitch", seconds=2, times=1)
    blocked = threading.Thread(target=lambda: sim.session().run_ps("Get-VMSwitch"))
    blocked.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert sim.session().run_ps("Get-VM | Out-Null").status_code == 0
    assert time.monotonic() - started < 1.8  # the hang lasts 2 s
    blocked.join()


def test_an_outage_also_cuts_off_kept_alive_connections(sim):
    session = sim.session()
    assert session.run_ps("'before'").status_code == 0  # the session now holds a kept-alive connection
    sim.outage(1.0)
    time.sleep(0.3)
    with pytest.raises((RequestsConnectionError, WinRMTransportError)):
        session.run_ps("'during'")
