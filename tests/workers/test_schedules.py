"""Metering, hour quotas, continuous-run limits, expiry and course windows."""

from datetime import timedelta

from django.utils import timezone

from labs.models import Lab, LabUsageMonth
from labs.services import lab_request
from labs.states import LabState
from tenants.services import quota_update
from tests import factories
from workers.services import operations
from workers.services.metering import meter_lab
from workers.services.schedules import run_schedules


def run(new_lab, **shape):
    lab = new_lab(**shape)
    operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    return lab


def test_metering_books_running_seconds_once(fake_fleet, new_lab):
    lab = run(new_lab)
    later = lab.running_since + timedelta(minutes=10)
    assert meter_lab(lab_id=lab.pk, now=later) == 600
    assert meter_lab(lab_id=lab.pk, now=later) == 0  # the same seconds are never booked twice
    assert LabUsageMonth.objects.get(lab=lab).running_seconds == 600


def test_labs_stop_when_the_tenant_runs_out_of_monthly_hours(fake_fleet, new_lab, roomy):
    tenant, _ = roomy
    quota_update(tenant=tenant, monthly_lab_hours=1)
    lab = run(new_lab)
    report = run_schedules(now=lab.running_since + timedelta(minutes=61))
    lab.refresh_from_db()
    assert report.stopped == {"monthly_lab_hours": 1}
    assert lab.state == LabState.STOPPING
    assert "Monthly lab hours used up" in lab.events.get(event="stop").message


def test_a_students_labs_stop_at_their_hour_limit(fake_fleet, roomy):
    tenant, _ = roomy
    quota_update(tenant=tenant, student_hours=2)
    student = factories.member(tenant, "hour-student", "student")
    lab = lab_request(actor=student, template=factories.template(tenant, "open", self_service=True))
    operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    assert run_schedules(now=lab.running_since + timedelta(hours=1)).stopped == {}
    assert run_schedules(now=lab.running_since + timedelta(hours=2, minutes=1)).stopped == {"student_hours": 1}


def test_labs_stop_after_the_templates_continuous_running_limit(fake_fleet, new_lab):
    lab = run(new_lab, max_continuous_running=timedelta(hours=4))
    assert run_schedules(now=lab.running_since + timedelta(hours=3)).stopped == {}
    assert run_schedules(now=lab.running_since + timedelta(hours=4)).stopped == {"max_continuous_running": 1}


def test_expiry_warns_first_then_deletes(fake_fleet, new_lab, settings):
    settings.NESTLAB_EXPIRY_WARNING = 3600
    lab = run(new_lab)
    report = run_schedules(now=lab.expires_at - timedelta(minutes=30))
    assert report.warned == 1 and report.expired == 0
    assert run_schedules(now=lab.expires_at - timedelta(minutes=20)).warned == 0  # warned once
    report = run_schedules(now=lab.expires_at + timedelta(seconds=1))
    lab.refresh_from_db()
    assert report.expired == 1 and lab.state == LabState.DELETING
    assert list(lab.events.filter(event__in=["expiry_warning", "expire"]).values_list("event", flat=True)) == [
        "expiry_warning",
        "expire",
    ]


def test_course_labs_start_before_class_once_and_stop_after_it(fake_fleet, roomy):
    tenant, admin = roomy
    student = factories.member(tenant, "course-student", "student")
    template = factories.template(tenant, "course-t")
    now = timezone.now()
    course = factories.course(
        tenant,
        "Evening class",
        template,
        students=[student],
        starts_at=now + timedelta(hours=2),
        ends_at=now + timedelta(hours=5),
    )
    lab = lab_request(actor=admin, owner=student, template=template, course=course)
    operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    from labs.services import lab_stop

    lab.refresh_from_db()
    lab_stop(actor=admin, lab=lab)
    operations.lab_power_off(lab_id=lab.pk)

    assert run_schedules(now=now + timedelta(hours=1)).started == 0
    assert run_schedules(now=now + timedelta(hours=1, minutes=50)).started == 1
    operations.lab_power_on(lab_id=lab.pk)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING
    assert run_schedules(now=now + timedelta(hours=5, minutes=1)).stopped == {"course_end": 1}


def test_schedules_are_idempotent(fake_fleet, new_lab):
    lab = run(new_lab, max_continuous_running=timedelta(hours=1))
    when = lab.running_since + timedelta(hours=2)
    assert run_schedules(now=when).stopped == {"max_continuous_running": 1}
    assert run_schedules(now=when).stopped == {}
    assert Lab.objects.get(pk=lab.pk).events.filter(event="stop").count() == 1


def test_requests_left_waiting_are_sent_again_then_given_up(
    fake_fleet, new_lab, settings, django_capture_on_commit_callbacks
):
    settings.NESTLAB_REQUEUE_AFTER = 300
    settings.NESTLAB_TRANSIENT_DEADLINE = 1800
    lab = new_lab()  # its placement message was lost
    with django_capture_on_commit_callbacks() as sent:
        assert run_schedules(now=lab.state_changed_at + timedelta(seconds=200)).resent == 0
        assert run_schedules(now=lab.state_changed_at + timedelta(seconds=301)).resent == 1
    assert len(sent) == 1
    report = run_schedules(now=lab.state_changed_at + timedelta(minutes=31))
    lab.refresh_from_db()
    assert report.abandoned == 1
    assert lab.state == LabState.FAILED and "No host could take it in 31 minutes" in lab.last_error


def test_a_students_course_lab_stops_at_the_courses_hours(fake_fleet, roomy):
    tenant, admin = roomy
    student = factories.member(tenant, "course-hours-student", "student")
    template = factories.template(tenant, "course-hours")
    course = factories.course(tenant, "Short course", template, students=[student], hours_per_student=1)
    lab = lab_request(actor=admin, owner=student, template=template, course=course)
    operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    assert run_schedules(now=lab.running_since + timedelta(minutes=30)).stopped == {}
    assert run_schedules(now=lab.running_since + timedelta(minutes=61)).stopped == {"student_hours": 1}
    assert "Course hours used up" in Lab.objects.get(pk=lab.pk).events.get(event="stop").message


def test_a_course_window_start_past_the_running_labs_limit_leaves_the_lab_stopped_saying_why(roomy):
    tenant, admin = roomy
    template = factories.template(tenant, "window-t")
    students = [factories.member(tenant, f"window-student-{n}", "student") for n in range(3)]
    now = timezone.now()
    course = factories.course(
        tenant, "Morning class", template, students=students, starts_at=now + timedelta(minutes=5)
    )
    labs = [lab_request(actor=admin, owner=student, template=template, course=course) for student in students]
    Lab.objects.filter(pk__in=[lab.pk for lab in labs]).update(state=LabState.STOPPED)
    busy = lab_request(actor=admin, template=template)
    Lab.objects.filter(pk=busy.pk).update(state=LabState.RUNNING)
    quota_update(tenant=tenant, max_running_labs=2)  # room for one more running lab

    report = run_schedules(now=now)
    assert (report.started, report.refused) == (1, 2)
    states = sorted(Lab.objects.filter(course=course).values_list("state", flat=True))
    assert states == [LabState.STARTING, LabState.STOPPED, LabState.STOPPED]
    for lab in Lab.objects.filter(course=course, state=LabState.STOPPED):
        (refusal,) = lab.events.filter(event="start_refused")
        assert "Quota 'max_running_labs' exceeded: 2 labs in use + 1 labs requested > limit 2" in refusal.message
        assert not lab.events.filter(event="start").exists()
