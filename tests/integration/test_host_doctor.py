"""The host doctor, from the command line, against simulated hosts with different problems."""

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from tests.integration.harness import host_for, wait_until
from workers.hyperv.simulator.testing import run_simulator
from workers.models import Host
from workers.services.hosts import host_doctor_request

pytestmark = [pytest.mark.integration]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"cpu_vendor": "amd", "os_build": 17763}, "AMD"),
        ({"no_firmware_virtualization": True}, "firmware"),
        ({"missing_base_image": r"C:\NestlabImages\win2022-base.vhdx"}, "missing"),
    ],
)
def test_the_doctor_tells_problem_hosts_apart_in_plain_words(db, settings, capsys, options, says, acme_template):
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator(**options) as sim:
        host = host_for(sim, "sick")
        with pytest.raises(CommandError, match="cannot run nested labs yet"):
            call_command("host_doctor", "sick")
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert failing and any(says in line for line in failing), out
    host.refresh_from_db()
    assert any(check["status"] == "fail" for check in host.doctor_report) and host.facts["os_build"]


def test_a_healthy_simulated_host_passes(db, settings, capsys, acme_template):
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator() as sim:
        host_for(sim, "healthy")
        call_command("host_doctor", "healthy")
    assert "healthy is ready for nested labs" in capsys.readouterr().out
    assert Host.objects.get(name="healthy").last_seen is not None


def test_an_unknown_host_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No host named 'nope'"):
        call_command("host_doctor", "nope")


@pytest.mark.postgres
def test_a_doctor_requested_through_the_service_runs_on_a_real_worker(worker, sims):
    # The dispatcher sends host_doctor by its registered name to the host's site queue, once the
    # request commits; a real worker (which imported workers.tasks) runs it against hvsim.
    host = host_for(sims(1)[0], "asked")
    with transaction.atomic():
        host_doctor_request(actor=None, host=host)
    wait_until(
        lambda: Host.objects.get(pk=host.pk).doctor_report,
        timeout=60,
        what=f"the doctor's report\n{worker.log_tail()}",
    )
    host.refresh_from_db()
    names = {check["name"] for check in host.doctor_report}
    assert host.facts["os_build"] and "hyperv_role" in names and "connect" not in names
