"""The quota holds under concurrency, on PostgreSQL, with real connections from many threads."""

import pytest

from config.errors import QuotaExceeded
from labs.models import Lab, LabEvent
from labs.services import lab_request
from labs.states import LIVE
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPETITIONS = 20
CALLS = 200


def _race(tenant, actor_for, template, calls=CALLS):
    results = run_at_once(lambda i: lab_request(actor=actor_for(i), template=template), calls)
    granted = [r for r in results if isinstance(r, Lab)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    unexpected = [r for r in results if not isinstance(r, (Lab, QuotaExceeded))]
    assert not unexpected, unexpected[:3]
    return granted, refused


def _assert_ledger_matches(tenant, granted):
    live = Lab.objects.filter(tenant=tenant, state__in=LIVE)
    assert live.count() == len(granted)
    assert LabEvent.objects.filter(lab__tenant=tenant).count() == len(granted)


def test_200_concurrent_requests_against_10_labs_grant_exactly_10():
    for repetition in range(REPETITIONS):
        _labs_race(repetition)


def _labs_race(repetition):
    tenant = factories.tenant(f"labs-{repetition}", max_labs=10, max_running_labs=1000)
    admin = factories.member(tenant, f"labs-admin-{repetition}", "admin")
    template = factories.template(tenant, "t")
    granted, refused = _race(tenant, lambda i: admin, template)
    assert len(granted) == 10
    assert len(refused) == CALLS - 10
    assert {r.detail["quota"] for r in refused} == {"max_labs"}
    _assert_ledger_matches(tenant, granted)


@pytest.mark.parametrize(
    ("limit", "value", "expected"),
    [("max_memory_mb", 40960, 10), ("max_vcpus", 14, 7)],
)
def test_concurrent_requests_never_exceed_the_memory_or_vcpu_quota(limit, value, expected):
    for repetition in range(REPETITIONS):
        _resource_race(repetition, limit, value, expected)


def _resource_race(repetition, limit, value, expected):
    tenant = factories.tenant(
        f"{limit.replace('_', '-')}-{repetition}", max_labs=1000, max_running_labs=1000, **{limit: value}
    )
    admin = factories.member(tenant, f"{limit}-admin-{repetition}", "admin")
    template = factories.template(tenant, "t", vcpus=2, memory_mb=4096)
    granted, refused = _race(tenant, lambda i: admin, template)
    assert len(granted) == expected
    assert {r.detail["quota"] for r in refused} == {limit}
    _assert_ledger_matches(tenant, granted)


def test_concurrent_requests_of_one_student_stop_at_the_per_student_limit():
    for repetition in range(REPETITIONS):
        _student_race(repetition)


def _student_race(repetition):
    tenant = factories.tenant(f"student-{repetition}", max_labs=1000, max_running_labs=1000, student_max_labs=3)
    students = [factories.member(tenant, f"s{repetition}-{n}", "student") for n in range(4)]
    template = factories.template(tenant, "t", self_service=True)
    granted, refused = _race(tenant, lambda i: students[i % 4], template)
    assert len(granted) == 12
    per_student = {s.pk: sum(1 for lab in granted if lab.owner_id == s.pk) for s in students}
    assert set(per_student.values()) == {3}
    assert {r.detail["quota"] for r in refused} == {"student_max_labs"}


def test_20_concurrent_starts_with_room_for_3_more_running_labs_start_exactly_3():
    for repetition in range(5):
        _start_race(repetition)


def _start_race(repetition):
    from labs.services import lab_start
    from labs.states import LabState
    from tenants.services import quota_update

    tenant = factories.tenant(
        f"start-{repetition}",
        max_labs=1000,
        max_running_labs=1000,
        max_vcpus=1000,
        max_memory_mb=10_000_000,
        max_storage_gb=100_000,
    )
    admin = factories.member(tenant, f"start-admin-{repetition}", "admin")
    template = factories.template(tenant, "t")
    running = [lab_request(actor=admin, template=template) for _ in range(2)]
    stopped = [lab_request(actor=admin, template=template) for _ in range(20)]
    Lab.objects.filter(pk__in=[lab.pk for lab in running]).update(state=LabState.RUNNING)
    Lab.objects.filter(pk__in=[lab.pk for lab in stopped]).update(state=LabState.STOPPED)
    quota_update(tenant=tenant, max_running_labs=5)

    results = run_at_once(lambda i: lab_start(actor=admin, lab=Lab.objects.get(pk=stopped[i].pk)), 20, threads=20)
    started = [r for r in results if isinstance(r, Lab)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(started) == 3, [r for r in results if not isinstance(r, (Lab, QuotaExceeded))][:3]
    assert len(refused) == 17
    assert {r.detail["quota"] for r in refused} == {"max_running_labs"}
    assert Lab.objects.filter(tenant=tenant, state=LabState.STARTING).count() == 3
    assert LabEvent.objects.filter(lab__tenant=tenant, event="start").count() == 3
