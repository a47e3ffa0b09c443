"""The host doctor's service: each check fails on its own, and a base-image lookup never hides the host."""

from labs.models import LabTemplateVersion
from tests import factories
from workers.hyperv.errors import HostError
from workers.services.hosts import host_doctor_run


def _by_name(checks):
    return {check.name: check for check in checks}


def test_a_failed_base_image_lookup_fails_only_that_check(fake_fleet, driver_of, acme_template):
    host = fake_fleet[0]
    driver_of(host).inject_fault("base_images_present", error=HostError("The WinRM shell was closed."))
    checks = _by_name(host_doctor_run(host_id=host.pk))
    assert "connect" not in checks
    assert checks["base_images"].status == "fail" and "The WinRM shell was closed." in checks["base_images"].detail
    assert checks["hyperv_role"].status == "pass" and checks["memory"].status == "pass"
    host.refresh_from_db()
    assert host.facts["os_build"] and host.last_seen is not None


def test_a_refused_template_path_is_named_and_the_other_images_still_checked(fake_fleet, acme, acme_template):
    bad = factories.template(acme, "bad")
    LabTemplateVersion.objects.filter(template=bad).update(base_image_path="C:\\I\\CON\\x.vhdx")
    checks = _by_name(host_doctor_run(host_id=fake_fleet[0].pk))
    assert "connect" not in checks and checks["nesting_os"].status == "pass"
    detail = checks["base_images"].detail
    assert checks["base_images"].status == "fail" and "C:\\I\\CON\\x.vhdx" in detail and "missing" not in detail
