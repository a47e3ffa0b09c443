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


def test_host_facts_do_not_wait_for_get_windowsfeature_which_can_hang():
    with run_simulator(faults=[{"kind": "hang", "cmdlet": "Get-WindowsFeature"}]) as host:
        facts = connect(host, call_deadline_s=5).host_facts([])
        assert facts.hyperv_installed is True and facts.logical_processors == 64


def test_hvsim_answers_get_service_vmms_as_the_role_brings_it():
    script = (
        "ConvertTo-Json -Compress -InputObject "
        "@(Get-Service -Name vmms -ErrorAction SilentlyContinue | ForEach-Object {$_.Status.ToString()})"
    )
    with run_simulator() as host:
        assert host.session().run_ps(script).std_out.strip() == b'["Running"]'
    with run_simulator(no_hyperv_role=True) as host:
        assert host.session().run_ps(script).std_out.strip() == b"[]"
        assert connect(host).host_facts([]).hyperv_installed is False


@pytest.mark.parametrize("count", [1, 400])
def test_host_facts_fit_the_command_line_however_many_base_images(count):
    images = [f"C:\\NestlabImages\\course-{n:04}-with-a-long-descriptive-name.vhdx" for n in range(count)]
    with run_simulator() as host:
        facts = connect(host).host_facts(images)
    assert [image.path for image in facts.base_images] == images
    assert not any(image.present for image in facts.base_images)
