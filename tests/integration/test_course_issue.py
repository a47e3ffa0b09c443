"""A whole course issued through a real worker process onto three simulated hosts."""

import pytest
from django.db.models import Sum

from labs.models import Lab
from labs.selectors import course_progress
from labs.services import course_issue
from labs.states import LabState
from tests import factories
from tests.integration.harness import host_for, wait_until
from workers.models import Allocation
from workers.services.hosts import host_doctor_run

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


def test_a_30_student_course_runs_across_3_hosts_as_nested_tagged_vms(worker, sims):
    handles = sims(3)
    hosts = [host_for(sim, f"hv{n}") for n, sim in enumerate(handles, start=1)]
    tenant = factories.tenant(
        "academy", max_labs=40, max_running_labs=40, max_vcpus=200, max_memory_mb=200_000, max_storage_gb=10_000
    )
    instructor = factories.member(tenant, "academy-instructor", "instructor")
    students = [factories.member(tenant, f"academy-s{n:02}", "student") for n in range(30)]
    template = factories.template(tenant, "nested-lab")
    course = factories.course(tenant, "Hyper-V in depth", template, instructors=[instructor], students=students)

    plan = course_issue(actor=instructor, course=course)
    assert (plan.issued, plan.refused) == (30, [])

    wait_until(
        lambda: course_progress(course)["running"] == 30,
        timeout=180,
        what=f"30 running labs; last progress {course_progress(course)}; worker log:\n{worker.log_tail()}",
    )
    assert course_issue(actor=instructor, course=course).issued == 0  # issuing again gives nobody a second lab

    labs = {str(lab.pk): lab for lab in Lab.objects.filter(course=course).select_related("host")}
    assert len(labs) == 30 and {lab.state for lab in labs.values()} == {LabState.RUNNING}
    seen = 0
    for sim, host in zip(handles, hosts, strict=True):
        vms = sim.state()["vms"]
        on_host = [lab for lab in labs.values() if lab.host_id == host.pk]
        assert len(vms) == len(on_host), f"{host.name}: {len(vms)} VMs for {len(on_host)} labs"
        for vm in vms:
            lab_id = vm["notes"].split()[0].removeprefix("nestlab:")
            lab = labs[lab_id]
            assert vm["name"] == lab.vm_name and lab.host_id == host.pk
            assert vm["notes"] == f"nestlab:{lab_id} tenant:academy"
            assert vm["state"] == "Running"
            assert vm["expose_virtualization_extensions"] is True
            assert vm["dynamic_memory"] is False
            [adapter] = vm["adapters"]
            assert adapter["switch_name"] == "nestlab-academy-private"
            assert adapter["dhcp_guard"] and adapter["router_guard"] and adapter["mac_address_spoofing"]
            seen += 1
        used = Allocation.objects.filter(host=host).aggregate(m=Sum("memory_mb"), v=Sum("vcpus"))
        assert used["m"] == sum(vm["memory_startup"] // 2**20 for vm in vms)
        assert used["v"] == sum(vm["processor_count"] for vm in vms)
    assert seen == 30
    assert len({lab.host_id for lab in labs.values()}) == 3  # spread over every host


def test_a_course_runs_over_ntlm_with_message_encryption_as_real_hosts_take_it(worker, sims):
    """The driver's default real-host transport (docs/winrm.md "HTTP") end to end: NTLM over
    HTTP with every SOAP message sealed, through a real worker."""
    handles = sims(2)
    hosts = [host_for(sim, f"hv{n}", transport="ntlm") for n, sim in enumerate(handles, start=1)]
    tenant = factories.tenant(
        "campus", max_labs=10, max_running_labs=10, max_vcpus=50, max_memory_mb=60_000, max_storage_gb=2_000
    )
    instructor = factories.member(tenant, "campus-instructor", "instructor")
    students = [factories.member(tenant, f"campus-s{n}", "student") for n in range(6)]
    template = factories.template(tenant, "nested-lab")
    course = factories.course(tenant, "NTLM course", template, instructors=[instructor], students=students)

    assert course_issue(actor=instructor, course=course).issued == 6
    wait_until(
        lambda: course_progress(course)["running"] == 6,
        timeout=120,
        what=f"6 running labs; last progress {course_progress(course)}; worker log:\n{worker.log_tail()}",
    )
    assert {host.transport for host in hosts} == {"ntlm"}
    for sim, host in zip(handles, hosts, strict=True):
        on_host = set(Lab.objects.filter(course=course, host=host).values_list("vm_name", flat=True))
        assert {vm["name"] for vm in sim.state()["vms"]} == on_host
        assert all(vm["state"] == "Running" for vm in sim.state()["vms"])
    assert Lab.objects.filter(course=course).count() == 6


@pytest.mark.parametrize(("config_version", "amd_gets_labs"), [("9.0", False), ("10.0", True)])
def test_a_course_over_an_intel_and_an_amd_host_runs_every_lab(worker, sims, config_version, amd_gets_labs):
    """AMD nests only from configuration version 9.3 (docs/hyperv.md): a 9.0 class lands on the
    Intel host alone, a 10.0 class on both, and every lab runs either way."""
    [intel_sim] = sims(1)
    [_, amd_sim] = sims(1, cpu_vendor="amd")
    intel, amd = host_for(intel_sim, "hv-intel"), host_for(amd_sim, "hv-amd", memory_mb=131072)
    for host in (intel, amd):  # the doctor stores the facts placement reads (CPU vendor, versions)
        host_doctor_run(host_id=host.pk)
    tenant = factories.tenant(
        "mixed", max_labs=20, max_running_labs=20, max_vcpus=100, max_memory_mb=100_000, max_storage_gb=10_000
    )
    instructor = factories.member(tenant, "mixed-instructor", "instructor")
    students = [factories.member(tenant, f"mixed-s{n}", "student") for n in range(6)]
    template = factories.template(tenant, "nested", config_version=config_version)
    course = factories.course(tenant, "mixed fleet", template, instructors=[instructor], students=students)

    assert (course_issue(actor=instructor, course=course).issued) == 6
    wait_until(
        lambda: course_progress(course)["running"] == 6,
        timeout=120,
        what=f"6 running labs; last progress {course_progress(course)}; worker log:\n{worker.log_tail()}",
    )
    labs = list(Lab.objects.filter(course=course))
    assert {lab.state for lab in labs} == {LabState.RUNNING}
    on_amd = [lab for lab in labs if lab.host_id == amd.pk]
    assert bool(on_amd) is amd_gets_labs
    assert len(amd_sim.state()["vms"]) == len(on_amd) and len(intel_sim.state()["vms"]) == 6 - len(on_amd)
