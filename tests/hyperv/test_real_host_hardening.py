"""What a real host does that a tidy simulator would hide (hyperv-real-host.md, issue 13):
profile output, host facts, error classification and non-English hosts, against hvsim."""

from __future__ import annotations

import pytest

from workers.hyperv.driver import HyperVDriver
from workers.hyperv.interface import ConnectionSpec
from workers.hyperv.simulator.testing import SimHandle, run_simulator

PROFILE_NOISE = "Loading personal and system profiles took 812ms."


def connect(sim: SimHandle, **overrides) -> HyperVDriver:
    values = dict(
        host_name="hvsim", endpoint=sim.host, port=sim.port, transport="plaintext", username=sim.user,
        password=sim.password, use_tls=False, allow_plaintext=True, call_deadline_s=20,
    )
    values.update(overrides)
    return HyperVDriver(ConnectionSpec(**values))


# --- item 6: -NoProfile -NonInteractive ----------------------------------------------------------


def test_a_host_profile_that_prints_does_not_break_the_drivers_json():
    with run_simulator(profile_output=PROFILE_NOISE) as host:
        plain = host.session().run_ps("ConvertTo-Json -InputObject 1 -Compress")
        assert plain.std_out.decode().startswith(PROFILE_NOISE)  # the profile runs without -NoProfile
        driver = connect(host)
        assert driver.list_tagged_vms() == []
        assert driver.host_facts([]).computer_name == "HV-SIM01"
