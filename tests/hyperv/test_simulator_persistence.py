"""State across restarts, atomic writes, clean shutdown, and many clients at once."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from workers.hyperv.simulator.testing import run_simulator

from .conftest import run_json

pytestmark = pytest.mark.integration


def test_state_survives_a_restart_of_the_process(tmp_path):
    with run_simulator(state_file=str(tmp_path / "host.json")) as sim:
        session = sim.session()
        run_json(
            session,
            "New-VMSwitch -Name keep -SwitchType Private | Out-Null; "
            "New-VM -Name keep -NoVHD -SwitchName keep | Start-VM; Set-VM -Name keep -Notes 'tag:1'; "
            "Checkpoint-VM -Name keep -SnapshotName c1",
        )
        before = sim.state()
        port = sim.port
        sim.restart()
        assert sim.port == port
        after = sim.state()
        assert after["vms"][0]["id"] == before["vms"][0]["id"]
        assert (after["vms"][0]["notes"], after["vms"][0]["state"]) == ("tag:1", "Running")
        assert after["vms"][0]["checkpoints"][0]["name"] == "c1"
        assert [s["name"] for s in after["switches"]] == ["keep"]
        assert run_json(sim.session(), "(Get-VM keep).Notes | ConvertTo-Json") == "tag:1"


def test_sigterm_exits_0_and_leaves_a_complete_state_file(tmp_path):
    path = tmp_path / "host.json"
    with run_simulator(state_file=str(path)) as sim:
        run_json(sim.session(), '1..20 | ForEach-Object { New-VM -Name "vm-$_" -NoVHD | Out-Null }')
        assert sim.stop() == 0
    data = json.loads(path.read_text())
    assert len(data["vms"]) == 20
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".hvsim-state-")]  # no temp files left


def test_the_state_file_is_written_soon_after_a_change_not_only_at_exit(tmp_path):
    path = tmp_path / "host.json"
    with run_simulator(state_file=str(path)) as sim:
        run_json(sim.session(), "New-VM -Name early -NoVHD | Out-Null")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if path.exists() and "early" in path.read_text():
                break
            time.sleep(0.05)
        assert "early" in path.read_text()


def test_fifty_concurrent_clients_leave_consistent_state():
    with run_simulator(max_shells_per_user=64) as sim:  # Windows' default quota is 30 shells
        errors: list[BaseException] = []

        def client(index: int) -> None:
            try:
                session = sim.session()
                run_json(
                    session,
                    f"New-VM -Name 'c-{index}' -NoVHD | Out-Null; Set-VM -Name 'c-{index}' "
                    f"-Notes 'owner-{index}'; Start-VM -Name 'c-{index}'",
                )
                name = run_json(session, f"(Get-VM -Name 'c-{index}').Notes | ConvertTo-Json")
                assert name == f"owner-{index}"
            except BaseException as error:  # collected: a thread's assertion must fail the test
                errors.append(error)

        threads = [threading.Thread(target=client, args=(index,)) for index in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        vms = sim.state()["vms"]
        assert sorted(vm["name"] for vm in vms) == sorted(f"c-{index}" for index in range(50))
        assert all(vm["notes"] == "owner-" + vm["name"][2:] and vm["state"] == "Running" for vm in vms)
        assert len({adapter["mac_address"] for vm in vms for adapter in vm["adapters"]}) == 50


def test_racing_clients_creating_the_same_disk_get_exactly_one_success(simulator, unique):
    folder = f"C:\\Labs\\{unique}"
    simulator.run_ps(f"New-Item -ItemType Directory -Path '{folder}' | Out-Null")
    script = (
        f"$ProgressPreference='SilentlyContinue'; New-VHD -Path '{folder}\\d.vhdx' "
        "-ParentPath 'C:\\NestlabImages\\win2022-base.vhdx' -Differencing | Out-Null"
    )
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(simulator.run_ps(script).status_code)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes) == [0] + [1] * 9
    assert [d["path"] for d in simulator.state()["disks"] if d["path"].startswith(folder)] == [f"{folder}\\d.vhdx"]
