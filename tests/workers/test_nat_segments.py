"""NAT prefixes of tenants and of lab-scope labs come from one pool and never collide, however
many are reserved at once (two tables, one advisory lock)."""

import pytest

from labs.services import lab_request
from tests import factories
from tests.concurrency import run_at_once
from workers.models import LabSegment, TenantSegment
from workers.services.networks import _allocate, _allocate_lab_prefix, nat_prefixes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_tenant_and_lab_nat_prefixes_reserved_at_once_are_all_distinct():
    room = {"max_labs": 50, "max_running_labs": 50, "max_vcpus": 500, "max_memory_mb": 500_000}
    tenants = [factories.tenant(f"seg-{n}", **room) for n in range(12)]
    admin = factories.member(tenants[0], "seg-admin", "admin")
    template = factories.template(tenants[0], "own", network_mode="nat", network_scope="lab")
    labs = [lab_request(actor=admin, template=template) for _ in range(24)]

    def reserve(i):
        if i % 3 == 0:
            return _allocate(tenants[i // 3], "nat_prefix", nat_prefixes()).nat_prefix
        return _allocate_lab_prefix(labs[i - i // 3 - 1])

    results = run_at_once(reserve, 36, threads=18)
    assert all(isinstance(result, str) for result in results), results
    prefixes = [
        *TenantSegment.objects.values_list("nat_prefix", flat=True),
        *LabSegment.objects.values_list("nat_prefix", flat=True),
    ]
    assert len(prefixes) == 36 and len(set(prefixes)) == 36 and set(results) == set(prefixes)
