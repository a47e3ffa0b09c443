import pytest

from labs.services import lab_request
from workers.models import Host


@pytest.fixture
def admin_client(client, platform_admin):
    client.force_login(platform_admin)
    return client


def test_tenant_page_shows_usage_against_each_limit(admin_client, acme, acme_admin, acme_template):
    lab_request(actor=acme_admin, template=acme_template)
    page = admin_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "max_labs: 1 of 20 labs (5%)" in page
    assert "max_vcpus: 2 of 64 vCPUs" in page


def test_host_password_is_write_only(admin_client, db):
    form = {
        "name": "hv1",
        "endpoint": "hv1.example.test",
        "port": 5986,
        "transport": "ntlm",
        "use_tls": "on",
        "username": "svc-nestlab",
        "new_password": "Top-Secret-42",
        "site": "default",
        "logical_cpus": 32,
        "memory_mb": 131072,
        "memory_reserved_mb": 4096,
        "storage_gb": 2000,
        "vcpu_overcommit": "4",
        "max_parallel_operations": 4,
        "vm_root": r"C:\Nestlab\Labs",
        "state": "enabled",
        "allocations-TOTAL_FORMS": 0,
        "allocations-INITIAL_FORMS": 0,
    }
    response = admin_client.post("/admin/workers/host/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    host = Host.objects.get(name="hv1")
    assert host.get_password() == "Top-Secret-42"
    page = admin_client.get(f"/admin/workers/host/{host.pk}/change/").content.decode()
    assert "Top-Secret-42" not in page and host.password_ciphertext not in page
    response = admin_client.post(f"/admin/workers/host/{host.pk}/change/", {**form, "new_password": ""})
    assert response.status_code == 302
    assert Host.objects.get(pk=host.pk).get_password() == "Top-Secret-42"


def test_lab_history_is_read_only_in_the_admin(admin_client, acme_admin, acme_template):
    lab = lab_request(actor=acme_admin, template=acme_template)
    page = admin_client.get(f"/admin/labs/lab/{lab.pk}/change/")
    assert page.status_code == 200
    assert "requested from" in page.content.decode()
    assert admin_client.post(f"/admin/labs/lab/{lab.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_member_added_in_the_admin_gets_the_roles_grants(admin_client, acme, acme_admin, acme_template):
    from tenants.models import Membership
    from tenants.permissions import may
    from tests import factories

    lab = lab_request(actor=acme_admin, template=acme_template)
    newcomer = factories.user("acme-newadmin")
    response = admin_client.post(
        "/admin/tenants/membership/add/", {"tenant": acme.pk, "user": newcomer.pk, "role": "admin"}
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    assert may(newcomer, lab, "view")
    membership = Membership.objects.get(user=newcomer)
    response = admin_client.post(f"/admin/tenants/membership/{membership.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not may(newcomer, lab, "view")


def test_course_instructors_and_students_set_in_the_admin_get_their_grants(admin_client, acme, acme_template):
    from labs.models import Course
    from tenants.permissions import may
    from tests import factories

    teacher = factories.member(acme, "acme-teacher", "instructor")
    student = factories.member(acme, "acme-pupil", "student")
    response = admin_client.post(
        "/admin/labs/course/add/",
        {
            "tenant": acme.pk, "name": "Admin course", "template": acme_template.pk,
            "instructors": [teacher.pk], "starts_at_0": "2026-12-01", "starts_at_1": "09:00:00",
            "ends_at_0": "2026-12-05", "ends_at_1": "17:00:00", "hours_per_student": 20, "lab_lifetime": "14 00:00:00",
            "enrollments-TOTAL_FORMS": 1, "enrollments-INITIAL_FORMS": 0, "enrollments-0-student": student.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    course = Course.objects.get(name="Admin course")
    assert may(teacher, course, "view") and may(student, course, "view")
    assert course.enrollments.get().student == student


def test_the_admin_refuses_a_student_as_course_instructor(admin_client, acme, acme_template):
    from labs.models import Course
    from tests import factories

    pupil = factories.member(acme, "acme-pupil2", "student")
    response = admin_client.post(
        "/admin/labs/course/add/",
        {
            "tenant": acme.pk, "name": "Pupil-taught", "template": acme_template.pk,
            "instructors": [pupil.pk], "starts_at_0": "2026-12-01", "starts_at_1": "09:00:00",
            "ends_at_0": "2026-12-05", "ends_at_1": "17:00:00", "hours_per_student": 20, "lab_lifetime": "14 00:00:00",
            "enrollments-TOTAL_FORMS": 0, "enrollments-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "acme-pupil2" in response.context["adminform"].form.errors["instructors"][0]
    assert not Course.objects.filter(name="Pupil-taught").exists()


def test_tenant_page_shows_the_busiest_students_usage_against_the_per_student_limits(
    admin_client, acme, acme_student, acme_student2, acme_template
):
    from labs.models import LabUsageMonth
    from tenants.selectors import month_start

    first = lab_request(actor=acme_student, template=acme_template)
    lab_request(actor=acme_student, template=acme_template)
    lab_request(actor=acme_student2, template=acme_template)
    LabUsageMonth.objects.create(
        lab=first, tenant=acme, owner=acme_student, month=month_start(), running_seconds=5400
    )
    page = admin_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "student_max_labs: 2 of 2 labs (100%) (busiest student)" in page
    assert "student_hours: 1.5 of 40 hours (4%) (busiest student)" in page
