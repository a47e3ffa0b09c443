"""Writes for templates, labs, courses and enrollments.

The API, the admin, management commands and Celery tasks all call these (and so must any later entry
point); nothing else changes these rows. Lab state changes go through ``labs.lifecycle.transition``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.audit import audit_log
from config.errors import DomainError, InvalidTransition, NoCapacity, QuotaExceeded, TenantInactive
from config.services import model_update
from config.validators import checkpoint_name
from labs.lifecycle import lab_note, transition
from labs.models import (
    MAX_LAB_LIFETIME,
    VERSIONED_FIELDS,
    Course,
    Enrollment,
    EnrollmentStatus,
    Lab,
    LabEvent,
    LabTemplate,
    LabTemplateVersion,
    safe_name,
)
from labs.states import INITIAL, LIVE, LabEventName, LabState
from tenants import permissions as tenant_permissions
from tenants.models import Membership, Quota, Role, Tenant
from tenants.permissions import role_of, roles_in
from tenants.quotas import quota_check_hours, quota_check_labs
from tenants.selectors import running_seconds_this_month, tenant_live_usage
from workers.dispatch import TaskName, send_lab_task_on_commit
from workers.models import Host, HostState
from workers.services.placement import HostRoom, check_some_host_able, choose_host, host_rooms, hosts_able

log = logging.getLogger(__name__)


def _check_static_memory(dynamic_memory: bool) -> None:
    if dynamic_memory:
        raise ValidationError(
            {"dynamic_memory": "Nested virtualization needs static memory; dynamic memory is not supported."}
        )


@transaction.atomic
def template_create(
    *,
    actor=None,
    tenant: Tenant | None,
    name: str,
    description: str = "",
    self_service: bool = False,
    dynamic_memory: bool = False,
    **shape,
) -> LabTemplate:
    """Create a template (global when ``tenant`` is None) and its version 1. Raises ValidationError,
    naming ``tenant`` when the actor may not make a template there (global ones: platform admins)."""
    refused = tenant_permissions.refusal(actor, "template.create", tenant)
    if refused is not None:
        raise ValidationError({"tenant": refused})
    _check_static_memory(dynamic_memory)
    template = LabTemplate(tenant=tenant, name=name, description=description, self_service=self_service)
    template.full_clean()
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise ValidationError({"name": f"A template named {name!r} already exists here."}) from None
    _version_add(template=template, version=1, shape=shape)
    audit_log(log, "template created", actor=actor, obj=template, tenant=getattr(tenant, "slug", None), shape=shape)
    return template


TEMPLATE_EDITABLE = ("name", "description", "self_service", "active")


@transaction.atomic
def template_update(*, actor=None, template: LabTemplate, **fields) -> LabTemplate:
    """Change what is not the machine shape: name, description, self-service, retired or not.

    Shape changes go through ``template_revise`` (a new version). Raises ValidationError.
    """
    template = LabTemplate.objects.select_for_update(no_key=True, of=("self",)).get(pk=template.pk)
    try:
        with transaction.atomic():
            template, _ = model_update(
                instance=template,
                fields=fields,
                allowed=TEMPLATE_EDITABLE,
                refusal="Not editable here; shape changes add a version.",
            )
    except IntegrityError:
        raise ValidationError({"name": f"A template named {template.name!r} already exists here."}) from None
    audit_log(log, "template changed", actor=actor, obj=template, fields=fields)
    return template


@transaction.atomic
def template_revise(
    *, actor=None, template: LabTemplate, dynamic_memory: bool = False, **changes
) -> LabTemplateVersion:
    """Add a new version with ``changes`` applied to the latest one. Existing labs keep theirs.

    A template without any version (rows made before templates were created only through
    ``template_create``) gets version 1, which then needs the whole shape. Raises ValidationError
    naming the field.
    """
    _check_static_memory(dynamic_memory)
    LabTemplate.objects.select_for_update(no_key=True, of=("self",)).get(pk=template.pk)
    latest = template.versions.order_by("-version").first()
    shape = {field: getattr(latest, field) for field in VERSIONED_FIELDS} if latest else {}
    unknown = set(changes) - set(VERSIONED_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a template setting." for name in sorted(unknown)})
    shape.update(changes)
    version = _version_add(template=template, version=latest.version + 1 if latest else 1, shape=shape)
    audit_log(log, "template revised", actor=actor, obj=template, version=version.version, changes=changes)
    return version


def _version_add(*, template: LabTemplate, version: int, shape: dict) -> LabTemplateVersion:
    unknown = set(shape) - set(VERSIONED_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a template setting." for name in sorted(unknown)})
    row = LabTemplateVersion(template=template, version=version, **shape)
    row.full_clean()
    row.save()
    return row


def template_latest_version(template: LabTemplate) -> LabTemplateVersion:
    version = template.versions.order_by("-version").first()
    if version is None:
        raise ValidationError({"template": f"Template {template} has no version yet."})
    return version


@transaction.atomic
def course_create(
    *, actor=None, tenant: Tenant, name: str, template: LabTemplate, starts_at, ends_at, instructors=(), **options
) -> Course:
    """Create a course and set its instructors (see ``course_instructors_set``). Raises ValidationError,
    and NotAllowed unless the actor manages the tenant."""
    tenant_permissions.require(actor, "course.create", tenant)
    course = Course(tenant=tenant, name=name, template=template, starts_at=starts_at, ends_at=ends_at, **options)
    course.full_clean()
    course.save()
    audit_log(log, "course created", actor=actor, obj=course, tenant=tenant.slug, template=template.pk)
    return course_instructors_set(actor=actor, course=course, instructors=instructors)


def course_instructors_check(*, tenant: Tenant, instructors) -> None:
    """Only owners, admins and instructors of the course's tenant teach; else ValidationError naming
    the ``instructors`` field and the people refused."""
    instructors = list(instructors)
    teachers = tenant_permissions.teachers_among(tenant.pk, instructors)
    refused = sorted(str(user) for user in instructors if user.pk not in teachers)
    if refused:
        raise ValidationError(
            {
                "instructors": f"Only owners, admins and instructors of {tenant} may teach a course, "
                f"not {', '.join(refused)}."
            }
        )


@transaction.atomic
def course_instructors_set(*, actor=None, course: Course, instructors) -> Course:
    """Make ``instructors`` the course's teachers, and bring the grants on it and its labs in line.

    Raises ValidationError (field ``instructors``) unless each may teach (see
    ``course_instructors_check``); nothing changes then."""
    instructors = list(instructors)
    course_instructors_check(tenant=course.tenant, instructors=instructors)
    course.instructors.set(instructors)
    tenant_permissions.permissions_grant_for_course(course)
    audit_log(log, "course instructors set", actor=actor, obj=course, instructors=[user.pk for user in instructors])
    return course


@transaction.atomic
def enrollment_add(*, actor=None, course: Course, student: AbstractBaseUser) -> Enrollment:
    """Enroll a member of the course's tenant. Idempotent: enrolling twice returns the same row."""
    if not Membership.objects.filter(tenant_id=course.tenant_id, user=student).exists():
        raise ValidationError({"student": f"{student} is not a member of {course.tenant}."})
    enrollment, created = Enrollment.objects.get_or_create(course=course, student=student)
    if not created and enrollment.status != EnrollmentStatus.ENROLLED:  # withdrawn, or invited and now a member
        enrollment.status = EnrollmentStatus.ENROLLED
        enrollment.save(update_fields=["status"])
    tenant_permissions.permissions_grant_for_enrollment(enrollment)
    audit_log(log, "student enrolled", actor=actor, obj=enrollment, course=course.pk, student=student.pk)
    return enrollment


def enrollment_invite(*, course: Course, student: AbstractBaseUser) -> Enrollment:
    """Hold a roster place for someone invited to the tenant: status ``invited``, no grants, no lab.

    ``tenants.invitations.invitation_accept`` enrolls them. Idempotent; an existing enrollment
    is left as it is.
    """
    enrollment, _ = Enrollment.objects.get_or_create(
        course=course, student=student, defaults={"status": EnrollmentStatus.INVITED}
    )
    return enrollment


def lab_request(
    *,
    actor: AbstractBaseUser,
    template: LabTemplate,
    owner: AbstractBaseUser | None = None,
    tenant: Tenant | None = None,
    course: Course | None = None,
    name: str = "",
) -> Lab:
    """Admit one new lab under every limit, or refuse and change nothing.

    In one transaction it locks the tenant's Quota row (SELECT ... FOR NO KEY UPDATE; on SQLite the
    IMMEDIATE transaction holds the database write lock instead), so concurrent requests of one
    tenant are decided one at a time against usage counted from live Lab rows. The checks, in
    order: tenant active; owner a member; template usable by the tenant (students: only
    self-service templates, unless the lab is for their course); course enrollment and one live
    lab per student per course; the tenant's lab, running, vCPU, memory, storage and monthly
    hour limits; and, for students, the per-student lab and hour limits.

    The lab is inserted first and the quota row locked last, so the lock covers only the count
    and the commit (see the comment in the body).

    Raises QuotaExceeded (naming the quota, used, requested and limit), NotAllowed,
    TenantInactive or ValidationError. Returns the Lab in state ``requested`` with its
    ``request`` event written.
    """
    owner = owner or actor
    tenant = tenant or (course.tenant if course else template.tenant)
    if tenant is None:
        raise ValidationError({"tenant": "A global template needs the tenant the lab is for."})
    if template.tenant_id not in (None, tenant.pk):
        raise ValidationError({"template": "This template belongs to another tenant."})
    if not template.active:
        raise ValidationError({"template": "This template is retired."})
    if course is not None:
        if course.tenant_id != tenant.pk:
            raise ValidationError({"course": "This course belongs to another tenant."})
        if course.template_id != template.pk:
            raise ValidationError({"template": "A course lab must use the course's template."})

    # Reads that do not depend on usage happen before the quota lock, to keep it short.
    roles = roles_in(tenant.pk, {owner.pk, actor.pk})
    owner_role = roles.get(owner.pk)
    if owner_role is None:
        raise ValidationError({"owner": f"{owner} is not a member of {tenant}."})
    tenant_permissions.require(
        actor, "lab.request", tenant, owner=owner, template=template, course=course, actor_role=roles.get(actor.pk)
    )
    version = template_latest_version(template)
    check_some_host_able(version)  # NoSuitableHost: no enabled host can nest this version
    # Only metering changes running hours, never a request: they need no lock.
    seconds = running_seconds_this_month(tenant.pk, owner_id=owner.pk)

    with transaction.atomic():
        enrollment = None
        if course is not None:
            enrollment = (
                Enrollment.objects.select_for_update(no_key=True, of=("self",))
                .filter(course=course, student=owner, status=EnrollmentStatus.ENROLLED)
                .first()
            )
            if enrollment is None:
                raise ValidationError({"owner": f"{owner} is not enrolled in {course.name}."})

        # The lab, its event and its grants are written first, and the quota row is locked last,
        # just before counting: the lock is then held only for one count and the commit. Under
        # READ COMMITTED the count, taken after the lock is granted, sees every lab committed
        # before it plus this one; a refusal rolls all of it back.
        now = timezone.now()
        # Rows saved before lifetimes were bounded may hold more; never past the maximum.
        lifetime: timedelta = min(course.lab_lifetime if course else version.default_lifetime, MAX_LAB_LIFETIME)
        lab = Lab(
            tenant=tenant,
            owner=owner,
            template_version=version,
            course=course,
            name=name or template.name,
            expires_at=now + lifetime,
            state_changed_at=now,
        )
        # Validate only the one caller-supplied field: full_clean() would add two uniqueness
        # queries (id, vm_name) that a fresh UUID makes pointless.
        _validate_lab_name(lab.name)
        lab.save(force_insert=True)
        LabEvent.objects.create(
            lab=lab,
            at=now,
            actor=actor,
            event=LabEventName.REQUEST,
            from_state="",
            to_state=INITIAL,
            message=f"requested from {template} v{version.version}",
        )
        if enrollment is not None:
            enrollment.lab = lab
            enrollment.save(update_fields=["lab"])
        tenant_permissions.permissions_grant_for_lab(lab, owner_role=owner_role)

        quota = Quota.objects.select_for_update(no_key=True, of=("self",)).select_related("tenant").get(tenant=tenant)
        if not quota.tenant.active:
            raise TenantInactive(f"Tenant {tenant} is inactive and cannot request labs.")
        with_this_lab = tenant_live_usage(tenant.pk, owner_id=owner.pk, course_id=course.pk if course else None)
        _check_limits(
            quota=quota, usage=with_this_lab, version=version, owner_role=owner_role, course=course, seconds=seconds
        )
        send_lab_task_on_commit(TaskName.LAB_PLACE, str(lab.pk))
    return lab


def _validate_lab_name(name: str) -> None:
    try:
        safe_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None


def _check_limits(*, quota: Quota, usage: dict, version: LabTemplateVersion, owner_role: str, course, seconds):
    """Every limit, against usage that already includes the lab being requested."""
    quota_check_labs(quota=quota, usage=usage, version=version, count=1, usage_includes_request=True)
    if course is not None and usage["owner_course_labs"] > 1:
        raise QuotaExceeded(
            quota="labs_per_student_per_course", used=usage["owner_course_labs"] - 1, requested=1, limit=1
        )
    is_student = owner_role == Role.STUDENT
    if is_student:
        quota_check_labs(
            quota=quota, usage=usage, version=version, count=1, usage_includes_request=True, per_student=True
        )
    quota_check_hours(quota=quota, seconds=seconds, is_student=is_student, in_course=course is not None)


def _admit_power_on(lab: Lab) -> None:
    """Admit a lab that has just moved to a powered state (its row is locked by that update).

    Locks the tenant's quota row next (the order is lab, then quota, as in ``lab_request``), then
    counts running labs from rows, this one included, and checks the running-labs limit and the
    monthly hour limits. Raises QuotaExceeded; the caller's transaction then rolls back.
    """
    owner_role = role_of(lab.owner_id, lab.tenant_id)
    seconds = running_seconds_this_month(lab.tenant_id, owner_id=lab.owner_id)
    quota = Quota.objects.select_for_update(no_key=True, of=("self",)).get(tenant_id=lab.tenant_id)
    usage = tenant_live_usage(lab.tenant_id)
    quota_check_labs(
        quota=quota,
        usage=usage,
        version=lab.template_version,
        count=1,
        usage_includes_request=True,
        powered_on_only=True,
    )
    quota_check_hours(
        quota=quota, seconds=seconds, is_student=owner_role == Role.STUDENT, in_course=lab.course_id is not None
    )


# --- Lifecycle operations -------------------------------------------------------------------
# Each validates the transition through the lifecycle table (compare-and-set, event written) and
# enqueues the worker task once the transaction commits. The host work happens in the task.

MAX_CHECKPOINTS_PER_LAB = 5
MAX_EXTENSION_HOURS = 24 * 30


def _move_and_send(lab: Lab, event: str, task: TaskName, *args, actor=None, message: str = "") -> Lab:
    """Apply ``event`` (compare-and-set, with its LabEvent) and send ``task`` once that commits."""
    with transaction.atomic():
        transition(lab, event, actor=actor, message=message)
        send_lab_task_on_commit(task, str(lab.pk), *args)
    return lab


def lab_start(*, actor, lab: Lab) -> Lab:
    """Power a stopped lab on, if the tenant has room for one more running lab.

    Admitted under the quota lock like a request (see ``_admit_power_on``). Raises
    InvalidTransition unless the lab is stopped, and QuotaExceeded (naming the limit and the
    numbers) when it would take the tenant past its running-labs or hour limits; either way
    nothing changes. Raises NotAllowed unless the actor may operate the lab.
    """
    tenant_permissions.require(actor, "lab.operate", lab)
    before = (lab.state, lab.state_changed_at, lab.updated_at)
    try:
        with transaction.atomic():
            transition(lab, LabEventName.START, actor=actor)
            _admit_power_on(lab)
            send_lab_task_on_commit(TaskName.LAB_POWER_ON, str(lab.pk))
    except QuotaExceeded:
        lab.state, lab.state_changed_at, lab.updated_at = before  # rolled back with the transaction
        raise
    return lab


def lab_stop(*, actor, lab: Lab, reason: str = "") -> Lab:
    """Shut a running lab down (gracefully, then power off). Raises InvalidTransition unless running."""
    tenant_permissions.require(actor, "lab.operate", lab)
    return _move_and_send(lab, LabEventName.STOP, TaskName.LAB_POWER_OFF, actor=actor, message=reason)


def lab_reset(*, actor, lab: Lab) -> Lab:
    """Return the lab to its clean checkpoint, keeping its power state."""
    tenant_permissions.require(actor, "lab.operate", lab)
    was = lab.state
    return _move_and_send(lab, LabEventName.RESET, TaskName.LAB_RESET, was, actor=actor, message=f"from {was}")


def _checkpoint_name(name: str) -> str:
    """The name as the host will get it, or ValidationError naming the rule (config.validators)."""
    name = (name or "").strip()
    try:
        checkpoint_name(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    return name


def lab_checkpoint(*, actor, lab: Lab, name: str) -> Lab:
    """Take a named checkpoint. At most MAX_CHECKPOINTS_PER_LAB per lab; names are unique per lab,
    ignoring case (as Hyper-V compares them)."""
    tenant_permissions.require(actor, "lab.change", lab)
    name = _checkpoint_name(name)
    with transaction.atomic():
        existing = set(lab.checkpoints.values_list("name", flat=True))
        if name.lower() in {other.lower() for other in existing}:
            raise ValidationError({"name": f"This lab already has a checkpoint named {name!r}."})
        if len(existing) >= MAX_CHECKPOINTS_PER_LAB:
            raise QuotaExceeded(
                quota="checkpoints_per_lab", used=len(existing), requested=1, limit=MAX_CHECKPOINTS_PER_LAB
            )
        was = lab.state
        transition(lab, LabEventName.CHECKPOINT, actor=actor, message=name)
        lab.checkpoints.create(name=name)
        send_lab_task_on_commit(TaskName.LAB_CHECKPOINT, str(lab.pk), name, was)
    return lab


def lab_restore(*, actor, lab: Lab, name: str) -> Lab:
    """Apply a named checkpoint. Raises ValidationError if the lab has none by that name."""
    tenant_permissions.require(actor, "lab.change", lab)
    with transaction.atomic():
        if not lab.checkpoints.filter(name=name).exists():
            raise ValidationError({"name": f"This lab has no checkpoint named {name!r}."})
        was = lab.state
        transition(lab, LabEventName.RESTORE, actor=actor, message=name)
        send_lab_task_on_commit(TaskName.LAB_RESTORE, str(lab.pk), name, was)
    return lab


def lab_checkpoint_remove(*, actor, lab: Lab, name: str) -> Lab:
    """Delete a named checkpoint (frees one of the MAX_CHECKPOINTS_PER_LAB places once the host confirms).

    Raises ValidationError on ``name`` (not a checkpoint name, or none of this lab's) and
    InvalidTransition unless the lab is running or stopped; nothing changes then."""
    tenant_permissions.require(actor, "lab.change", lab)
    name = _checkpoint_name(name)  # also keeps what PostgreSQL cannot compare (NUL) from the query
    if not lab.checkpoints.filter(name=name).exists():
        raise ValidationError({"name": f"This lab has no checkpoint named {name!r}."})
    if lab.state not in (LabState.RUNNING, LabState.STOPPED):
        raise InvalidTransition(f"A lab that is {lab.state} cannot remove checkpoints now.", state=lab.state)
    with transaction.atomic():
        lab_note(lab=lab, event="checkpoint_remove", actor=actor, message=name)
        send_lab_task_on_commit(TaskName.LAB_CHECKPOINT_REMOVE, str(lab.pk), name)
    return lab


def lab_extend(*, actor, lab: Lab, hours: int) -> Lab:
    """Push the expiry back by ``hours`` (1..720), never past MAX_LAB_LIFETIME from the lab's creation
    (ValidationError on ``hours``). Only live labs can be extended (InvalidTransition), and only by
    those who may change the lab (NotAllowed): the tenant's managers, the course's instructors and
    owners who are not students. Records an ``extend`` event with the actor."""
    tenant_permissions.require(actor, "lab.change", lab)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_EXTENSION_HOURS:
        raise ValidationError({"hours": f"Give a whole number of hours from 1 to {MAX_EXTENSION_HOURS}."})
    with transaction.atomic():
        locked = Lab.objects.select_for_update(no_key=True, of=("self",)).get(pk=lab.pk)
        if locked.state not in LIVE:
            raise InvalidTransition(f"A lab that is {locked.state} cannot be extended.", state=locked.state)
        base = max(locked.expires_at, timezone.now())
        # A lab lives at most MAX_LAB_LIFETIME from its creation; comparing before adding also
        # keeps a stored expiry near the end of the calendar from overflowing.
        latest = locked.created_at + MAX_LAB_LIFETIME
        if base > latest - timedelta(hours=hours):
            left = max(0, int((latest - base).total_seconds() // 3600))
            raise ValidationError(
                {
                    "hours": f"A lab lives at most {MAX_LAB_LIFETIME.days} days, until {latest:%Y-%m-%d %H:%M} UTC for "
                    f"this one; it can be extended by at most {left} more hours."
                }
            )
        locked.expires_at = base + timedelta(hours=hours)
        locked.expiry_warned_at = None
        locked.save(update_fields=["expires_at", "expiry_warned_at", "updated_at"])
        lab_note(
            lab=locked,
            event="extend",
            actor=actor,
            message=f"+{hours} h, now expires {locked.expires_at:%Y-%m-%d %H:%M} UTC",
        )
    lab.expires_at = locked.expires_at
    return lab


def lab_delete(*, actor, lab: Lab, reason: str = "") -> Lab:
    """Remove the lab: the worker deletes its VM, disk and folder, then releases its capacity."""
    tenant_permissions.require(actor, "lab.delete", lab)
    return _move_and_send(lab, LabEventName.DELETE, TaskName.LAB_TEARDOWN, actor=actor, message=reason)


def lab_expire(*, lab: Lab) -> Lab:
    """The lab's lifetime is over: delete it (the expiry schedule calls this)."""
    expired = f"expired at {lab.expires_at:%Y-%m-%d %H:%M} UTC"
    return _move_and_send(lab, LabEventName.EXPIRE, TaskName.LAB_TEARDOWN, message=expired)


# --- Course issue ----------------------------------------------------------------------------


@dataclass
class IssuePlan:
    """What issuing a course's labs does (or, on a dry run, would do)."""

    course: str
    dry_run: bool
    enrolled: int
    already_issued: int
    to_issue: int
    labs: list[dict] = field(default_factory=list)  # {"student": ...} per new lab (+ "host": platform admins)
    capacity_left: list[dict] = field(default_factory=list)  # per enabled host, after the plan (platform admins)
    fits: int = 0  # how many of the labs to issue the fleet has room for
    capacity: str = ""  # the same in words: "room for all 30 labs", "room for 26 of 30: ..."
    issued: int = 0
    refused: list[dict] = field(default_factory=list)  # {"student": ..., "code": ..., "message": ...}


def course_issue(*, actor, course: Course, dry_run: bool = False) -> IssuePlan:
    """Request one lab per enrolled student who has no live lab for the course. Idempotent.

    Before anything is created it checks that the tenant's quota and the fleet's free capacity
    can take the whole class, and refuses up front naming the shortfall (QuotaExceeded,
    NoCapacity). A dry run returns the plan instead of refusing for capacity: whether the class
    fits ("room for 26 of 30: the fleet is 4 labs short"). Hosts are the platform's business:
    only platform admins see which host each lab would land on and what capacity is left per
    host; nobody else learns anything about hosts or other tenants' labs. Issuing twice never
    gives a student two labs: lab_request itself refuses a second live lab per student and course.
    """
    tenant_permissions.require(actor, "course.issue", course)
    enrollments = list(
        Enrollment.objects.filter(course=course, status=EnrollmentStatus.ENROLLED)
        .select_related("student", "lab")
        .order_by("student__username")
    )
    pending = [e for e in enrollments if e.lab is None or e.lab.state not in LIVE]
    plan = IssuePlan(
        course=course.name,
        dry_run=dry_run,
        enrolled=len(enrollments),
        already_issued=len(enrollments) - len(pending),
        to_issue=len(pending),
    )
    if not pending:
        plan.capacity = "nothing to issue: every enrolled student has a lab"
        return plan
    version = template_latest_version(course.template)
    check_some_host_able(version)  # refused up front, dry run included: no lab of this version could run
    quota = Quota.objects.get(tenant_id=course.tenant_id)
    usage = tenant_live_usage(course.tenant_id)
    count = len(pending)
    quota_check_labs(quota=quota, usage=usage, version=version, count=count, usage_includes_request=False)

    rooms = host_rooms(hosts_able(list(Host.objects.filter(state=HostState.ENABLED).order_by("pk")), version))
    need = {"vcpus": version.vcpus, "memory_mb": version.memory_mb, "storage_gb": version.disk_gb}
    shows_hosts = tenant_permissions.is_platform_admin(actor)
    for enrollment in pending:
        room = choose_host(rooms, policy=settings.NESTLAB_PLACEMENT_POLICY, **need)
        if room is None:
            if dry_run:
                break
            raise NoCapacity(
                f"The fleet has free capacity for {plan.fits} of the {count} labs this course needs "
                f"({version.vcpus} vCPUs, {version.memory_mb} MB, {version.disk_gb} GB each); "
                f"{count - plan.fits} short.",
                fits=plan.fits,
                needed=count,
            )
        plan.fits += 1
        rooms = [_reserve(r, need) if r is room else r for r in rooms]
        planned = {"student": enrollment.student.username}
        if shows_hosts:
            planned["host"] = room.host.name
        plan.labs.append(planned)
    plan.capacity = _capacity_in_words(fits=plan.fits, needed=count)
    if shows_hosts:
        plan.capacity_left = [
            {"host": r.host.name, "vcpus": r.vcpus_free, "memory_mb": r.memory_free_mb, "storage_gb": r.storage_free_gb}
            for r in rooms
        ]
    if dry_run:
        return plan
    for enrollment in pending:
        try:
            lab_request(actor=actor, template=course.template, owner=enrollment.student, course=course)
            plan.issued += 1
        except (DomainError, ValidationError) as exc:
            message = getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [str(exc)]))
            plan.refused.append(
                {"student": enrollment.student.username, "code": getattr(exc, "code", "invalid"), "message": message}
            )
    return plan


def _capacity_in_words(*, fits: int, needed: int) -> str:
    def labs(n: int) -> str:
        return f"{n} lab" if n == 1 else f"{n} labs"

    if fits >= needed:
        return f"room for all {labs(needed)}" if needed > 1 else f"room for the {labs(needed)}"
    return f"room for {fits} of {needed}: the fleet is {labs(needed - fits)} short"


def _reserve(room, need):
    return HostRoom(
        room.host,
        room.vcpus_used + need["vcpus"],
        room.memory_used_mb + need["memory_mb"],
        room.storage_used_gb + need["storage_gb"],
    )
