"""``model_update``: the one partial update every ``<entity>_update`` service uses."""

import pytest
from django.core.exceptions import ValidationError

from config.services import model_update
from tenants.models import Quota, Tenant

pytestmark = pytest.mark.django_db


def test_it_sets_and_saves_only_the_allowed_fields_that_changed(acme):
    quota = Quota.objects.get(tenant=acme)
    stamp = quota.updated_at
    Quota.objects.filter(pk=quota.pk).update(max_vcpus=99)  # another writer's change to another field
    quota, changed = model_update(
        instance=quota,
        fields={"max_labs": 7, "max_running_labs": quota.max_running_labs},
        allowed=("max_labs", "max_running_labs"),
    )
    assert changed == ["max_labs"]
    row = Quota.objects.get(pk=quota.pk)
    assert (row.max_labs, row.max_vcpus) == (7, 99)  # only max_labs was written
    assert row.updated_at > stamp  # auto_now fields go with the changed ones


def test_nothing_changed_writes_nothing(acme, django_assert_num_queries):
    tenant = Tenant.objects.get(pk=acme.pk)
    with django_assert_num_queries(0):
        tenant, changed = model_update(instance=tenant, fields={"name": tenant.name}, allowed=("name",))
    assert changed == []


def test_it_refuses_fields_not_allowed_before_setting_any(acme):
    tenant = Tenant.objects.get(pk=acme.pk)
    with pytest.raises(ValidationError) as refused:
        model_update(
            instance=tenant,
            fields={"name": "New", "slug": "x", "active": False},
            allowed=("name", "active"),
            refusal="This cannot be changed.",
        )
    assert refused.value.message_dict == {"slug": ["This cannot be changed."]}
    assert (tenant.name, tenant.active) == (acme.name, True)
    assert Tenant.objects.get(pk=acme.pk).name == acme.name


def test_an_invalid_value_names_the_field_and_writes_nothing(acme):
    quota = Quota.objects.get(tenant=acme)
    with pytest.raises(ValidationError) as refused:
        model_update(instance=quota, fields={"max_labs": 0}, allowed=("max_labs",))
    assert list(refused.value.message_dict) == ["max_labs"]
    assert Quota.objects.get(pk=quota.pk).max_labs == 20
