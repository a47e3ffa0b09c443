"""The host doctor, from the command line, against simulated hosts with different problems."""

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from labs.models import LabTemplateVersion
from tests import factories
from tests.integration.harness import host_for, wait_until
from workers.hyperv.driver import HOST_FACTS
from workers.hyperv.errors import CommandTooLong
from workers.hyperv.powershell import build_script
from workers.hyperv.simulator.hyperv.facts import DEFAULT_BASE_IMAGES
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
        ({"no_hyperv_module": True}, "without its PowerShell module"),
        ({"not_elevated": True}, "full administrator rights"),
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


def test_vlan_mode_on_the_adapter_nestlab_connects_through_is_refused(db, settings, capsys, acme_template):
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator() as sim:  # hvsim's NIC "Ethernet" carries the address it listens on
        host = host_for(sim, "shared-nic")
        Host.objects.filter(pk=host.pk).update(external_adapter="Ethernet")
        with pytest.raises(CommandError, match="external_adapter"):
            call_command("host_doctor", "shared-nic")
        Host.objects.filter(pk=host.pk).update(external_adapter="Ethernet 2")
        call_command("host_doctor", "shared-nic")
    assert "FAIL  external_adapter: The external adapter 'Ethernet' carries 127.0.0.1" in capsys.readouterr().out


def test_an_unknown_host_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No host named 'nope'"):
        call_command("host_doctor", "nope")


def _report(host):
    host.refresh_from_db()
    return {check["name"]: check for check in host.doctor_report}


def test_a_template_path_the_driver_refuses_fails_only_the_base_image_check(db, settings, acme, acme_template):
    # Stored before the API validated paths (or written by hand): the doctor must survive it.
    refused = "C:\\Images\\..\\other.vhdx"
    bad = factories.template(acme, "bad-path")
    LabTemplateVersion.objects.filter(template=bad).update(base_image_path=refused)
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator() as sim:
        host = host_for(sim, "shared")
        with pytest.raises(CommandError, match="cannot run nested labs yet: base_images\\.$"):
            call_command("host_doctor", "shared")
    report = _report(host)
    assert "connect" not in report
    assert report["hyperv_role"]["status"] == "pass" and report["memory"]["status"] == "pass"
    assert refused in report["base_images"]["detail"] and "cannot be checked" in report["base_images"]["detail"]
    assert "credentials" not in report["base_images"]["fix"]
    assert host.facts["os_build"] and host.last_seen is not None


def test_many_long_base_image_paths_are_checked_in_batches_under_the_command_line_limit(
    db, settings, acme, acme_template
):
    paths = ["C:\\NestlabImages\\" + "a" * 60 + "\\" + f"{index:02d}-" + "b" * 55 + ".vhdx" for index in range(25)]
    with pytest.raises(CommandTooLong):  # one script cannot carry them all
        build_script(HOST_FACTS, Images=paths)
    for index, path in enumerate(paths):
        factories.template(acme, f"long-{index}", base_image_path=path)
    settings.NESTLAB_DRIVER_FACTORY = "workers.services.hostcalls.winrm_driver"
    with run_simulator(base_images=",".join([*DEFAULT_BASE_IMAGES, *paths[:7], *paths[8:]])) as sim:
        host = host_for(sim, "shared")
        with pytest.raises(CommandError, match="cannot run nested labs yet: base_images\\.$"):
            call_command("host_doctor", "shared")
    report = _report(host)
    assert "connect" not in report and report["nesting_os"]["status"] == "pass"
    detail = report["base_images"]["detail"]
    assert "1 of 26 base images are missing" in detail and paths[7] in detail and paths[8] not in detail


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
