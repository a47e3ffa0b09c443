"""The migration that makes slugs lower-case: existing rows (and the switch names built from them)
are lower-cased; slugs that already differ only in case stop it with their names."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("tenants", "0002_invitation"), ("workers", "0003_worker_bookkeeping")]
AFTER = [("tenants", "0003_slug_lower_case_unique_ignoring_case")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema(transactional_db):
    apps = migrate(BEFORE)
    yield apps
    apps.get_model("workers", "TenantSwitch").objects.all().delete()
    apps.get_model("workers", "Host").objects.all().delete()
    apps.get_model("tenants", "Tenant").objects.all().delete()
    migrate(AFTER)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _host(apps):
    return apps.get_model("workers", "Host").objects.create(
        name="hv1", endpoint="hv1.example.test", username="x", logical_cpus=8, memory_mb=65536, storage_gb=100
    )


def test_existing_slugs_and_their_switch_names_become_lower_case(old_schema):
    Tenant = old_schema.get_model("tenants", "Tenant")
    acme = Tenant.objects.create(slug="ACME", name="Acme")
    Tenant.objects.create(slug="globex", name="Globex")
    old_schema.get_model("workers", "TenantSwitch").objects.create(
        tenant=acme, host=_host(old_schema), name="nestlab-ACME-private", mode="private"
    )
    apps = migrate(AFTER)
    assert sorted(apps.get_model("tenants", "Tenant").objects.values_list("slug", flat=True)) == ["acme", "globex"]
    assert list(apps.get_model("workers", "TenantSwitch").objects.values_list("name", flat=True)) == [
        "nestlab-acme-private"
    ]


def test_slugs_that_differ_only_in_case_stop_the_migration_naming_them(old_schema):
    Tenant = old_schema.get_model("tenants", "Tenant")
    Tenant.objects.create(slug="acme", name="Acme")
    Tenant.objects.create(slug="ACME", name="Acme 2")
    with pytest.raises(RuntimeError, match="'acme' and 'ACME'"):
        migrate(AFTER)
    assert sorted(Tenant.objects.values_list("slug", flat=True)) == ["ACME", "acme"]  # nothing changed
    Tenant.objects.filter(slug="ACME").delete()
