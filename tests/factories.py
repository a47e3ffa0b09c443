"""Small builders for domain rows, all going through the services like production code does."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from labs import services as lab_services
from tenants import services as tenant_services
from workers.models import Host


def tenant(slug: str, **quota):
    return tenant_services.tenant_create(slug=slug, name=slug.title(), **quota)


def user(username: str, **extra):
    return get_user_model().objects.create_user(username, f"{username}@example.test", "nestlab-demo", **extra)


def member(tenant_row, username: str, role: str):
    person = user(username)
    tenant_services.membership_add(tenant=tenant_row, user=person, role=role)
    return person


def template(tenant_row, name: str, *, vcpus=2, memory_mb=4096, disk_gb=40, self_service=False, **shape):
    return lab_services.template_create(
        tenant=tenant_row,
        name=name,
        self_service=self_service,
        vcpus=vcpus,
        memory_mb=memory_mb,
        disk_gb=disk_gb,
        base_image_path=shape.pop("base_image_path", r"C:\NestlabImages\win2022-base.vhdx"),
        **shape,
    )


def course(tenant_row, name: str, template_row, *, instructors=(), students=(), **options):
    now = timezone.now()
    row = lab_services.course_create(
        tenant=tenant_row,
        name=name,
        template=template_row,
        starts_at=options.pop("starts_at", now - timedelta(hours=1)),
        ends_at=options.pop("ends_at", now + timedelta(days=5)),
        instructors=instructors,
        **options,
    )
    for student in students:
        lab_services.enrollment_add(course=row, student=student)
    return row


def host(name: str, *, cpus=16, memory_mb=65536, reserved_mb=4096, storage_gb=1000, overcommit=4, **extra):
    password = extra.pop("password", "host-secret")
    row = Host(
        name=name,
        endpoint=extra.pop("endpoint", "127.0.0.1"),
        port=extra.pop("port", 5985),
        transport=extra.pop("transport", "plaintext"),
        use_tls=extra.pop("use_tls", False),
        username=extra.pop("username", "nestlab"),
        logical_cpus=cpus,
        memory_mb=memory_mb,
        memory_reserved_mb=reserved_mb,
        storage_gb=storage_gb,
        vcpu_overcommit=overcommit,
        **extra,
    )
    row.set_password(password)
    row.full_clean()
    row.save()
    return row
