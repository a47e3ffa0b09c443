"""Placement considers only hosts on which the template's configuration version can nest
(issue 13, item 0): Intel needs 8.0, AMD 9.3, and a host creates only the versions it lists."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.errors import NoSuitableHost
from labs.api.serializers import TemplateSerializer
from labs.models import Lab
from labs.services import course_issue, lab_request, template_revise
from tests import factories
from workers.hyperv.doctor import nesting_refusal
from workers.hyperv.simulator.hyperv import facts as hvsim
from workers.models import Allocation
from workers.services.placement import allocation_release, lab_place

WS2022 = list(hvsim.SUPPORTED_VERSIONS[20348])
WS2019 = list(hvsim.SUPPORTED_VERSIONS[17763])


def facts(vendor: str, supported=WS2022) -> dict:
    return {"cpu_manufacturer": hvsim.CPU_MANUFACTURER[vendor], "supported_config_versions": supported}


@pytest.fixture
def fleet(db):
    tenant = factories.tenant(
        "fleet", max_labs=100, max_running_labs=100, max_vcpus=1000, max_memory_mb=1_000_000, max_storage_gb=100_000
    )
    admin = factories.member(tenant, "fleet-admin", "admin")
    return tenant, admin


def test_a_9_0_lab_never_lands_on_an_amd_host_even_the_emptiest(fleet):
    tenant, admin = fleet
    intel = factories.host("intel", memory_mb=65536, facts=facts("intel"))
    factories.host("amd", memory_mb=262144, facts=facts("amd"))  # the spread policy would pick it
    template = factories.template(tenant, "t", config_version="9.0")
    placed = [lab_place(lab_id=lab_request(actor=admin, template=template).pk).host for _ in range(6)]
    assert placed == [intel] * 6


def test_a_10_0_lab_may_land_on_either_vendor(fleet):
    tenant, admin = fleet
    factories.host("intel", memory_mb=65536, facts=facts("intel"))
    amd = factories.host("amd", memory_mb=262144, facts=facts("amd"))
    template = factories.template(tenant, "t", config_version="10.0")
    assert lab_place(lab_id=lab_request(actor=admin, template=template).pk).host == amd


def test_a_request_no_enabled_host_can_nest_is_refused_up_front_naming_the_version_and_why(fleet):
    tenant, admin = fleet
    amd1 = factories.host("amd1", facts=facts("amd"))
    template = factories.template(tenant, "t", config_version="9.0")
    with pytest.raises(NoSuitableHost) as caught:
        lab_request(actor=admin, template=template)
    message = caught.value.message
    assert "configuration version 9.0" in message and "AMD hosts need configuration version 9.3" in message
    assert "amd1" not in message  # hosts are the platform's business
    assert caught.value.as_dict()["code"] == "no_suitable_host"
    assert Lab.objects.count() == 0
    amd1.delete()
    factories.host("old-intel", facts=facts("intel", WS2019))
    revised = template_revise(template=template, config_version="10.0")  # 2019 cannot create 10.0
    with pytest.raises(NoSuitableHost, match=r"to 9\.0 cannot create 10\.0"):
        lab_request(actor=admin, template=template)
    assert revised.version == 2 and Lab.objects.count() == 0


def test_a_course_issue_and_its_dry_run_are_refused_when_no_host_can_nest(fleet):
    tenant, admin = fleet
    factories.host("amd1", facts=facts("amd"))
    students = [factories.member(tenant, f"s{n}", "student") for n in range(3)]
    course = factories.course(tenant, "c", factories.template(tenant, "t", config_version="9.0"), students=students)
    for dry_run in (True, False):
        with pytest.raises(NoSuitableHost, match="9.0"):
            course_issue(actor=admin, course=course, dry_run=dry_run)
    assert Lab.objects.count() == 0


def test_a_course_issue_counts_only_the_hosts_that_can_nest(fleet):
    tenant, admin = fleet
    factories.host("intel", cpus=2, overcommit=1, facts=facts("intel"))  # room for one 2-vCPU lab
    factories.host("amd", cpus=64, facts=facts("amd"))
    students = [factories.member(tenant, f"s{n}", "student") for n in range(3)]
    course = factories.course(tenant, "c", factories.template(tenant, "t", config_version="9.0"), students=students)
    plan = course_issue(actor=admin, course=course, dry_run=True)
    assert (plan.fits, plan.to_issue) == (1, 3)


def test_a_host_never_doctored_is_not_refused(fleet):
    tenant, admin = fleet
    unknown = factories.host("new")
    lab = lab_request(actor=admin, template=factories.template(tenant, "t", config_version="9.0"))
    assert lab_place(lab_id=lab.pk).host == unknown
    allocation_release(lab=Lab.objects.get(pk=lab.pk))
    assert Allocation.objects.count() == 0


def test_the_template_answer_says_which_hosts_its_version_rules_out(fleet, rf):
    tenant, admin = fleet
    factories.host("amd1", facts=facts("amd"))
    factories.host("intel1", facts=facts("intel"))
    template = factories.template(tenant, "t", config_version="9.0")
    amd_reason = nesting_refusal("9.0", cpu_manufacturer="AMD")
    for user, expected in (
        (factories.user("root", is_staff=True), [{"host": "amd1", "reason": amd_reason}]),
        (admin, [{"reason": amd_reason}]),
    ):
        request = rf.get("/")
        request.user = user
        assert TemplateSerializer(template, context={"request": request}).data["hosts_ruled_out"] == expected
    template_revise(template=template, config_version="10.0")
    assert TemplateSerializer(template, context={"request": request}).data["hosts_ruled_out"] == []


@given(
    build=st.sampled_from(sorted(hvsim.SUPPORTED_VERSIONS)),
    vendor=st.sampled_from(["intel", "amd"]),
    version=st.sampled_from(sorted({v for vs in hvsim.SUPPORTED_VERSIONS.values() for v in vs} | {"9.3", "11.0"})),
)
def test_the_placement_rule_agrees_with_what_hvsim_lets_nest(build, vendor, version):
    supported = hvsim.SUPPORTED_VERSIONS[build]
    major, minor = (int(part) for part in version.split("."))
    hvsim_nests = version in supported and (major, minor) >= hvsim.NESTING_MIN_VERSION[vendor]
    refusal = nesting_refusal(
        version, cpu_manufacturer=hvsim.CPU_MANUFACTURER[vendor], supported_config_versions=supported
    )
    assert (refusal is None) == hvsim_nests


def test_the_template_admin_page_says_which_hosts_a_version_rules_out(fleet, admin_client):
    tenant, _ = fleet
    factories.host("amd1", facts=facts("amd"))
    template = factories.template(tenant, "t", config_version="9.0")
    page = admin_client.get(f"/admin/labs/labtemplate/{template.pk}/change/")
    assert page.status_code == 200
    assert "amd1: AMD hosts need configuration version 9.3 or higher" in page.content.decode()
