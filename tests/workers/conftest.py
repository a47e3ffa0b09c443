import pytest

from labs.services import lab_request
from tests import factories
from tests.workers import fakes
from workers.services import operations


@pytest.fixture
def fake_fleet(settings, db):
    """Hosts hv1 and hv2 backed by in-process fake drivers."""
    settings.NESTLAB_DRIVER_FACTORY = "tests.workers.fakes.driver_for_host"
    fakes.drivers.clear()
    hosts = [factories.host("hv1", max_parallel_operations=2), factories.host("hv2", max_parallel_operations=2)]
    yield hosts
    fakes.drivers.clear()


@pytest.fixture
def driver_of():
    return lambda host: fakes.driver_for_host(host)


@pytest.fixture
def roomy(db):
    tenant = factories.tenant(
        "roomy",
        max_labs=100,
        max_running_labs=100,
        max_vcpus=1000,
        max_memory_mb=1_000_000,
        max_storage_gb=100_000,
        student_max_labs=50,
    )
    admin = factories.member(tenant, "roomy-admin", "admin")
    return tenant, admin


@pytest.fixture
def new_lab(roomy):
    tenant, admin = roomy
    templates = {}

    def make(**shape):
        key = tuple(sorted(shape.items()))
        if key not in templates:
            templates[key] = factories.template(tenant, f"t{len(templates)}", **shape)
        return lab_request(actor=admin, template=templates[key])

    return make


def running_lab(new_lab):
    """A lab from ``new_lab``, placed and built: (lab, host)."""
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    return lab, host
