from labs.services import lab_request


def test_lab_history_is_read_only_in_the_admin(admin_client, acme_admin, acme_template):
    lab = lab_request(actor=acme_admin, template=acme_template)
    page = admin_client.get(f"/admin/labs/lab/{lab.pk}/change/")
    assert page.status_code == 200
    assert "requested from" in page.content.decode()
    assert admin_client.post(f"/admin/labs/lab/{lab.pk}/delete/", {"post": "yes"}).status_code == 403


def _course_form(tenant, template, *, name, instructors, enrollments=()):
    """The admin's add-course form: one week in December, 20 hours a student, labs for 14 days."""
    form = {
        "tenant": tenant.pk,
        "name": name,
        "template": template.pk,
        "instructors": instructors,
        "starts_at_0": "2026-12-01",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-12-05",
        "ends_at_1": "17:00:00",
        "hours_per_student": 20,
        "lab_lifetime": "14 00:00:00",
        "enrollments-TOTAL_FORMS": len(enrollments),
        "enrollments-INITIAL_FORMS": 0,
    }
    form.update({f"enrollments-{index}-student": student for index, student in enumerate(enrollments)})
    return form


def test_course_instructors_and_students_set_in_the_admin_get_their_grants(admin_client, acme, acme_template):
    from labs.models import Course
    from tenants.permissions import may
    from tests import factories

    teacher = factories.member(acme, "acme-teacher", "instructor")
    student = factories.member(acme, "acme-pupil", "student")
    response = admin_client.post(
        "/admin/labs/course/add/",
        _course_form(
            acme,
            acme_template,
            name="Admin course",
            instructors=[teacher.pk],
            enrollments=[student.pk],
        ),
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
        _course_form(acme, acme_template, name="Pupil-taught", instructors=[pupil.pk]),
    )
    assert response.status_code == 200
    assert "acme-pupil2" in response.context["adminform"].form.errors["instructors"][0]
    assert not Course.objects.filter(name="Pupil-taught").exists()
