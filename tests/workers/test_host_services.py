"""Host services: only platform admins use them, each records who did what, and one function
moves a host between enabled, draining and offline."""

from __future__ import annotations

import logging

import pytest

from config.errors import NotAllowed
from tests import factories
from workers.models import HostState
from workers.services.hosts import (
    HostChange,
    host_create,
    host_doctor_request,
    host_drain,
    host_enable,
    host_state_change,
    host_update,
)

pytestmark = pytest.mark.django_db

SECRET = "Top-Secret-42"


def _audit(caplog, change: str):
    records = [r for r in caplog.records if getattr(r, "change", None) == change]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    return records[0]


def test_adding_a_host_records_the_platform_admin_and_never_the_password(platform_admin, caplog):
    caplog.set_level(logging.INFO, logger="workers.services.hosts")
    host = host_create(
        actor=platform_admin,
        password=SECRET,
        name="hv9",
        endpoint="hv9.example.test",
        username="svc",
        logical_cpus=16,
        memory_mb=65536,
        storage_gb=1000,
    )
    record = _audit(caplog, "host added")
    assert record.actor == "admin" and record.actor_id == platform_admin.pk
    assert record.object == f"workers.host:{host.pk}" and record.host == "hv9"
    assert SECRET not in caplog.text and all(SECRET not in str(vars(r)) for r in caplog.records)


def test_editing_a_host_records_the_fields_not_their_secret_values(platform_admin, caplog):
    host = factories.host("hv1")
    caplog.set_level(logging.INFO, logger="workers.services.hosts")
    host_update(actor=platform_admin, host=host, password=SECRET, site="berlin")
    record = _audit(caplog, "host changed")
    assert record.actor == "admin" and record.fields == ["site"] and record.password_changed is True
    assert SECRET not in str(vars(record))


@pytest.mark.parametrize(("service", "change"), [(host_drain, "host drain"), (host_enable, "host enable")])
def test_drain_and_enable_record_the_actor_and_the_states(platform_admin, caplog, service, change):
    host = factories.host("hv1")
    if service is host_enable:
        host_drain(actor=platform_admin, host=host)
    caplog.set_level(logging.INFO, logger="workers.services.hosts")
    service(actor=platform_admin, host=host)
    record = _audit(caplog, change)
    assert record.actor == "admin" and record.object == f"workers.host:{host.pk}"
    assert (record.was, record.state) in {("enabled", "draining"), ("draining", "enabled")}


def test_a_doctor_request_records_the_actor(platform_admin, caplog, django_capture_on_commit_callbacks):
    host = factories.host("hv1")
    caplog.set_level(logging.INFO, logger="workers.services.hosts")
    with django_capture_on_commit_callbacks(execute=False):
        host_doctor_request(actor=platform_admin, host=host)
    assert _audit(caplog, "host doctor requested").actor == "admin"


def test_the_reconciler_is_recorded_as_the_system(caplog):
    host = factories.host("hv1")
    caplog.set_level(logging.INFO, logger="workers.services.hosts")
    host_state_change(actor=None, host=host, change=HostChange.LOST, last_error="down")
    record = _audit(caplog, "host lost")
    assert record.actor == "system" and record.actor_id is None and record.state == "offline"


@pytest.mark.parametrize("persona", ["acme_admin", "acme_student"])
def test_only_platform_admins_manage_hosts(request, persona):
    actor = request.getfixturevalue(persona)
    host = factories.host("hv1")
    for call in (
        lambda: host_drain(actor=actor, host=host),
        lambda: host_enable(actor=actor, host=host),
        lambda: host_doctor_request(actor=actor, host=host),
        lambda: host_update(actor=actor, host=host, site="x"),
        lambda: host_create(
            actor=actor,
            password="x",
            name="hv2",
            endpoint="hv2.example.test",
            username="svc",
            logical_cpus=16,
            memory_mb=65536,
            storage_gb=1000,
        ),
    ):
        with pytest.raises(NotAllowed, match="platform admins"):
            call()
    host.refresh_from_db()
    assert host.state == HostState.ENABLED and host.site != "x"


# Every change from every state: (state, resume_state) before -> after.
TABLE = {
    ("enabled", "", "drain"): ("draining", ""),
    ("draining", "", "drain"): ("draining", ""),
    ("draining", "", "enable"): ("enabled", ""),
    ("enabled", "", "enable"): ("enabled", ""),
    ("enabled", "", "lost"): ("offline", "enabled"),
    ("draining", "", "lost"): ("offline", "draining"),
    ("offline", "draining", "lost"): ("offline", "draining"),
    ("offline", "enabled", "drain"): ("offline", "draining"),
    ("offline", "draining", "enable"): ("offline", "enabled"),
    ("offline", "draining", "answered"): ("draining", ""),
    ("offline", "", "answered"): ("enabled", ""),
    ("enabled", "", "answered"): ("enabled", ""),
    ("draining", "", "answered"): ("draining", ""),
}


@pytest.mark.parametrize(("before", "after"), TABLE.items(), ids=["/".join(k) for k in TABLE])
def test_host_states_move_by_one_rule(before, after):
    state, resume, change = before
    host = factories.host("hv1")
    type(host).objects.filter(pk=host.pk).update(state=state, resume_state=resume)
    host_state_change(actor=None, host=host, change=change)
    host.refresh_from_db()
    assert (host.state, host.resume_state) == after
