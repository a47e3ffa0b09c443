"""Generation 2 firmware: the template's Secure Boot setting reaches the host through
Set-VMFirmware (hvsim), and a .vhd base image is refused for Generation 2 everywhere."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from labs import services as lab_services
from labs.models import LabTemplateVersion, SecureBoot
from tests import factories
from tests.hyperv.test_driver_integration import IMAGE, connect, vm_spec
from workers.hyperv.errors import InvalidValue
from workers.hyperv.interface import SwitchSpec
from workers.hyperv.simulator.testing import run_simulator


@pytest.fixture(scope="module")
def sim():
    with run_simulator(cpus=16, memory_mb=65536) as handle:
        yield handle


def _build(sim, **overrides) -> dict:
    name = "sb-" + uuid.uuid4().hex[:8]
    driver = connect(sim)
    driver.ensure_switch(SwitchSpec(name="sw-" + name, mode="private"))
    driver.ensure_vm(vm_spec(name, switch="sw-" + name, **overrides))
    [vm] = [vm for vm in sim.state()["vms"] if vm["name"] == name]
    return vm


@pytest.mark.integration
@pytest.mark.parametrize(
    ("setting", "enabled", "template"),
    [
        ("MicrosoftWindows", True, "MicrosoftWindows"),
        ("MicrosoftUEFICertificateAuthority", True, "MicrosoftUEFICertificateAuthority"),
        ("Off", False, "MicrosoftWindows"),
    ],
)
def test_a_generation_2_vm_gets_the_templates_secure_boot_setting(sim, setting, enabled, template):
    vm = _build(sim, secure_boot=setting)
    assert (vm["secure_boot"], vm["secure_boot_template"]) == (enabled, template)


@pytest.mark.integration
def test_a_generation_1_vm_is_never_asked_about_firmware(sim):
    vm = _build(sim, generation=1, secure_boot="MicrosoftUEFICertificateAuthority")  # hvsim refuses VMFirmware on gen 1
    assert vm["generation"] == 1


@pytest.mark.integration
def test_hvsim_refuses_a_vhd_disk_for_generation_2(sim):
    driver = connect(sim)
    script = (
        "New-Item -ItemType Directory -Path 'C:\\t' -Force | Out-Null;"
        "New-VHD -Path 'C:\\t\\a.vhd' -SizeBytes 1GB | Out-Null;"
        "New-VM -Name 'vhd-gen2' -Generation 2 -VHDPath 'C:\\t\\a.vhd' -MemoryStartupBytes 1GB | Out-Null"
    )
    with pytest.raises(Exception, match=r"\.vhdx"):
        driver.client.run_script(script)
    assert not [vm for vm in sim.state()["vms"] if vm["name"] == "vhd-gen2"]


def test_the_driver_refuses_a_vhd_base_image_for_generation_2_before_asking_the_host():
    with pytest.raises(InvalidValue, match="base image path.*Generation 2"):
        vm_spec("x", switch="sw", base_image_path=IMAGE.removesuffix("x"))
    vm_spec("x", switch="sw", base_image_path=IMAGE.removesuffix("x"), generation=1)  # Generation 1 boots .vhd
    with pytest.raises(InvalidValue, match="secure_boot"):
        vm_spec("x", switch="sw", secure_boot="Linux")


@pytest.mark.django_db
def test_a_generation_2_template_with_a_vhd_image_is_refused_naming_the_field_and_nothing_is_saved():
    tenant = factories.tenant("acme")
    with pytest.raises(ValidationError) as caught:
        factories.template(tenant, "linux", base_image_path="C:\\Images\\ubuntu.vhd", generation=2)
    assert "Generation 2" in caught.value.message_dict["base_image_path"][0]
    assert not LabTemplateVersion.objects.exists()
    template = factories.template(tenant, "linux-gen1", base_image_path="C:\\Images\\ubuntu.vhd", generation=1)
    with pytest.raises(ValidationError) as caught:
        lab_services.template_revise(template=template, generation=2)
    assert "base_image_path" in caught.value.message_dict
    assert template.versions.count() == 1


@pytest.mark.django_db
def test_secure_boot_is_a_versioned_setting_defaulting_to_the_windows_template():
    tenant = factories.tenant("acme")
    template = factories.template(tenant, "linux")
    first = template.versions.get()
    assert first.secure_boot == SecureBoot.MICROSOFT_WINDOWS
    second = lab_services.template_revise(template=template, secure_boot=SecureBoot.MICROSOFT_UEFI_CA)
    first.refresh_from_db()
    assert (first.secure_boot, second.version) == ("MicrosoftWindows", 2)
    assert second.secure_boot == SecureBoot.MICROSOFT_UEFI_CA
    with pytest.raises(ValidationError) as caught:
        lab_services.template_revise(template=template, secure_boot="Linux")
    assert "secure_boot" in caught.value.message_dict
