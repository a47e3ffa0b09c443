"""Create the demo tenants, people, templates and course. Safe to run again: it changes nothing twice."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from labs import services as lab_services
from labs.models import Course, LabTemplate
from tenants import services as tenant_services
from tenants.models import Membership, Tenant

DEMO_PASSWORD = "nestlab-demo"
BASE_IMAGE = r"C:\NestlabImages\win2022-base.vhdx"
#: Nests on every demo host: Intel needs 8.0 or higher, AMD (hv3) 9.3 or higher, and the demo
#: hosts (Windows Server 2022) create 8.0 to 10.0 (docs/hyperv.md, nested virtualization).
CONFIG_VERSION = "10.0"
TENANTS = {
    "acme": {"name": "Acme Training", "quota": {"max_vcpus": 16, "max_memory_mb": 32768, "max_labs": 4}},
    "globex": {"name": "Globex Engineering", "quota": {}},
}
ROLES = {"admin": "admin", "instructor": "instructor", "student1": "student", "student2": "student"}


class Command(BaseCommand):
    help = "Seed demo data (tenants acme and globex, their users, templates and a course). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even though DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates well-known passwords; it runs only with DEBUG on or with --force.")
        with transaction.atomic():
            self._seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Every demo password is {DEMO_PASSWORD!r}."))

    def _user(self, username, **extra):
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.test", **extra}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _template(self, tenant, name, **shape):
        existing = LabTemplate.objects.filter(tenant=tenant, name=name).first()
        if existing:
            if lab_services.template_latest_version(existing).config_version != CONFIG_VERSION:
                lab_services.template_revise(template=existing, config_version=CONFIG_VERSION)  # seeded before 10.0
            return existing
        return lab_services.template_create(
            tenant=tenant,
            name=name,
            vcpus=2,
            memory_mb=4096,
            disk_gb=60,
            base_image_path=BASE_IMAGE,
            config_version=CONFIG_VERSION,
            **shape,
        )

    def _seed(self):
        self._user("admin", is_staff=True, is_superuser=True)
        self._template(None, "windows-server-2022-nested", description="Windows Server 2022 with Hyper-V inside.")
        for slug, spec in TENANTS.items():
            tenant = Tenant.objects.filter(slug=slug).first() or tenant_services.tenant_create(
                slug=slug, name=spec["name"], **spec["quota"]
            )
            for suffix, role in ROLES.items():
                user = self._user(f"{slug}-{suffix}")
                if not Membership.objects.filter(tenant=tenant, user=user).exists():
                    tenant_services.membership_add(tenant=tenant, user=user, role=role)
            self._template(tenant, f"{slug}-lab", self_service=True, description=f"{spec['name']}'s standard lab.")

        acme = Tenant.objects.get(slug="acme")
        course = Course.objects.filter(tenant=acme, name="Nested Virtualization 101").first()
        if course is None:
            now = timezone.now()
            course = lab_services.course_create(
                tenant=acme,
                name="Nested Virtualization 101",
                template=LabTemplate.objects.get(tenant=acme, name="acme-lab"),
                starts_at=now,
                ends_at=now + timedelta(days=30),
                instructors=[get_user_model().objects.get(username="acme-instructor")],
            )
        for student in ("acme-student1", "acme-student2"):
            lab_services.enrollment_add(course=course, student=get_user_model().objects.get(username=student))
