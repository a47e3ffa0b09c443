"""Who may do what: django-guardian object permissions, and the tenant-scoped queryset restriction.

Two layers, both always applied by the API base classes (``config.api``), and a third the services ask:

1. ``restrict(queryset, user, action)`` narrows any queryset to the rows of the tenants the user
   belongs to, and then to the rows the user holds the object permission for. It is the only
   way the API reads rows, so a missing or wrong grant can never leak another tenant's objects,
   and an object the user may not see is a 404, never a 403.
2. Object permissions live in guardian's direct foreign-key tables (labs.LabUserObjectPermission
   and friends). Grants are written by the ``permissions_*`` functions below, which the creation
   services and the membership services call inside their transactions:

   ============================  ==========================================================
   holder                        permissions
   ============================  ==========================================================
   the tenant's managers group   every lab and course permission on every lab and course of
   (owners and admins)           the tenant
   a course's instructors group  every lab permission on the course's labs; view and issue on
                                 the course
   a lab's owner                 view, operate (start/stop/reset) and connect; owners who are
                                 not students also change (checkpoint, restore, extend) and
                                 delete
   an enrolled student           view on the course
   ============================  ==========================================================

   Groups keep role changes cheap: promoting an admin adds one group membership instead of a
   row per lab. Platform admins (``is_staff``) hold everything and are not restricted.

Tenants, memberships, quotas and templates have no per-object grants: what a user may do with
them follows from the role alone, and ``restrict`` encodes it.

3. What the services ask before they change something: ``require(actor, action, obj, ...)``
   answers "may this actor do this action to this object" from the same role sets and grants,
   and raises NotAllowed (a 403: the caller sees the object) naming the rule; ``refusal`` gives
   the same answer as the reason, or None. The actions are the keys of ``RULES``. An actor of
   None is the system (the beat's schedules, the reconciler, management commands), which may do anything;
   entry points always pass the signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q, QuerySet

from config.errors import NotAllowed
from labs.models import (
    Course,
    CourseGroupObjectPermission,
    CourseUserObjectPermission,
    Enrollment,
    Lab,
    LabGroupObjectPermission,
    LabTemplate,
    LabUserObjectPermission,
)
from tenants.models import Membership, Role, Tenant
from workers.models import Host

MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})
TEACHING_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.INSTRUCTOR})

LAB_ALL = ("view_lab", "operate_lab", "connect_lab", "change_lab", "delete_lab")
LAB_STUDENT_OWNER = ("view_lab", "operate_lab", "connect_lab")
COURSE_ALL = ("view_course", "change_course", "delete_course", "issue_course")
COURSE_INSTRUCTOR = ("view_course", "issue_course")
COURSE_STUDENT = ("view_course",)

# The API's verbs, and the guardian codename each needs per model.
LAB_ACTIONS = {
    "view": "view_lab",  # list, retrieve, events
    "operate": "operate_lab",  # start, stop, reset
    "connect": "connect_lab",  # connection details and the .rdp file
    "change": "change_lab",  # checkpoint, restore, extend
    "delete": "delete_lab",
}
COURSE_ACTIONS = {
    "view": "view_course",
    "issue": "issue_course",  # roster, issue, progress
    "change": "change_course",
    "delete": "delete_course",
}


# --- Who the user is, loaded once per request ---------------------------------------------------


@dataclass(frozen=True)
class Access:
    """A user's standing: staff flag and role per tenant. Cached on the user object."""

    user_id: int | None
    is_staff: bool
    roles: dict[int, str] = field(default_factory=dict)

    @property
    def member_tenant_ids(self) -> list[int]:
        return sorted(self.roles)

    @property
    def manager_tenant_ids(self) -> list[int]:
        return sorted(t for t, role in self.roles.items() if role in MANAGER_ROLES)

    def role_in(self, tenant_id: int | None) -> str | None:
        return self.roles.get(tenant_id) if tenant_id is not None else None

    def manages(self, tenant_id: int | None) -> bool:
        return self.is_staff or self.role_in(tenant_id) in MANAGER_ROLES


def access_of(user) -> Access:
    """The user's Access, with one query the first time per user object (so once per request)."""
    cached = getattr(user, "_nestlab_access", None)
    if cached is not None:
        return cached
    if user is None or not user.is_authenticated or not user.is_active:
        access = Access(user_id=None, is_staff=False)
    else:
        roles = dict(Membership.objects.filter(user_id=user.pk).values_list("tenant_id", "role"))
        access = Access(user_id=user.pk, is_staff=bool(user.is_staff), roles=roles)
    if user is not None:
        try:
            user._nestlab_access = access
        except AttributeError:  # AnonymousUser is fine to rebuild
            pass
    return access


def access_forget(user) -> None:
    """Drop the cached Access (after the user's memberships changed in the same request)."""
    if hasattr(user, "_nestlab_access"):
        del user._nestlab_access


# --- The restriction -----------------------------------------------------------------------------


def _guardian_q(user_id: int, codename: str, user_model, group_model) -> Q:
    # Two uncorrelated IN subqueries (PostgreSQL hashes them) plan and run faster here than
    # correlated EXISTS per row; both hit the (user|group, permission, object) unique index.
    user_rows = user_model.objects.filter(user_id=user_id, permission__codename=codename)
    memberships = Group.user_set.through.objects.filter(user_id=user_id).values("group_id")
    group_rows = group_model.objects.filter(group_id__in=memberships, permission__codename=codename)
    return Q(pk__in=user_rows.values("content_object_id")) | Q(pk__in=group_rows.values("content_object_id"))


def _restrict_lab(queryset, access: Access, action: str):
    codename = LAB_ACTIONS[action]
    return queryset.filter(tenant_id__in=access.member_tenant_ids).filter(
        _guardian_q(access.user_id, codename, LabUserObjectPermission, LabGroupObjectPermission)
    )


def _restrict_course(queryset, access: Access, action: str):
    codename = COURSE_ACTIONS[action]
    return queryset.filter(tenant_id__in=access.member_tenant_ids).filter(
        _guardian_q(access.user_id, codename, CourseUserObjectPermission, CourseGroupObjectPermission)
    )


def _restrict_enrollment(queryset, access: Access, action: str):
    courses = _restrict_course(Course.objects.all(), access, "issue")
    return queryset.filter(course__in=courses.values("pk"))


def _restrict_tenant(queryset, access: Access, action: str):
    if action == "view":
        return queryset.filter(pk__in=access.member_tenant_ids)
    if action == "manage":  # members, usage, reading the quota
        return queryset.filter(pk__in=access.manager_tenant_ids)
    return queryset.none()  # change, delete, quota updates: platform admins only


def _restrict_membership(queryset, access: Access, action: str):
    return queryset.filter(tenant_id__in=access.manager_tenant_ids)


def _restrict_template(queryset, access: Access, action: str):
    if action == "view":
        if not access.roles:
            return queryset.none()
        return queryset.filter(Q(tenant__isnull=True) | Q(tenant_id__in=access.member_tenant_ids))
    return queryset.filter(tenant_id__in=access.manager_tenant_ids)  # global ones: staff only


def _restrict_nothing(queryset, access: Access, action: str):
    return queryset.none()


def _restrictions() -> dict:
    return {
        Lab: _restrict_lab,
        Course: _restrict_course,
        Enrollment: _restrict_enrollment,
        Tenant: _restrict_tenant,
        Membership: _restrict_membership,
        LabTemplate: _restrict_template,
        Host: _restrict_nothing,  # platform admins only
        get_user_model(): _restrict_user,
    }


def _restrict_user(queryset, access: Access, action: str):
    """Users a caller may name (as a lab owner, an instructor): members of tenants they belong to."""
    return queryset.filter(memberships__tenant_id__in=access.member_tenant_ids).distinct()


def restrict(queryset: QuerySet, user, action: str = "view") -> QuerySet:
    """The rows of ``queryset`` that ``user`` may ``action``. Fails closed for unknown models."""
    access = access_of(user)
    if access.user_id is None:
        return queryset.none()
    if access.is_staff:
        return queryset
    try:
        rule = _restrictions()[queryset.model]
    except KeyError:
        raise LookupError(f"No access rule for {queryset.model.__name__}; add one to tenants.permissions.") from None
    return rule(queryset, access, action)


def may(user, obj, action: str) -> bool:
    """Whether ``user`` may ``action`` this one object (one query)."""
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action).exists()


# --- What the services ask ----------------------------------------------------------------------


def is_platform_admin(user) -> bool:
    """Platform admins (``is_staff``, active) hold everything and manage the fleet."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def roles_in(tenant_id: int, user_ids) -> dict[int, str]:
    """Each user's role in the tenant (absent: not a member), read now (one query, never cached)."""
    rows = Membership.objects.filter(tenant_id=tenant_id, user_id__in=set(user_ids)).values_list("user_id", "role")
    return dict(rows)


def role_of(user_id: int, tenant_id: int) -> str | None:
    return roles_in(tenant_id, [user_id]).get(user_id)


def teachers_among(tenant_id: int, users) -> set[int]:
    """The ids of ``users`` (users or a queryset of them) who may teach in the tenant: its owners,
    admins and instructors."""
    rows = Membership.objects.filter(tenant_id=tenant_id, role__in=TEACHING_ROLES, user__in=users)
    return set(rows.values_list("user_id", flat=True))


def _host_manage(actor, host, **context) -> str | None:
    return None if is_platform_admin(actor) else "Only platform admins manage hosts."


_UNSET = object()


def _lab_request(actor, tenant, *, owner, template, course, actor_role=_UNSET, **context) -> str | None:
    """Managers request any lab; instructors for themselves or their courses' students; students
    for themselves, from a self-service template or for their course."""
    if is_platform_admin(actor):
        return None
    if actor_role is _UNSET:
        actor_role = role_of(actor.pk, tenant.pk)
    if actor_role is None:
        return "You are not a member of this tenant."
    if actor_role in MANAGER_ROLES:
        return None
    if actor_role == Role.INSTRUCTOR:
        if course is not None and course.instructors.filter(pk=actor.pk).exists():
            return None
        if owner.pk == actor.pk:
            return None
        return "Instructors request labs for themselves or for the students of their courses."
    if owner.pk != actor.pk:
        return "Students can only request labs for themselves."
    if course is None and not template.self_service:
        return "This template is not open for student self-service."
    return None


def _course_issue(actor, course, **context) -> str | None:
    if is_platform_admin(actor) or may(actor, course, "issue"):  # the managers' and instructors' grant
        return None
    return "Only the course's instructors and the tenant's admins can issue its labs."


def _template_create(actor, tenant, **context) -> str | None:
    if is_platform_admin(actor):
        return None
    if tenant is None:
        return "Give one of your tenants; only platform admins make global templates."
    if role_of(actor.pk, tenant.pk) in MANAGER_ROLES:
        return None
    return "Only the tenant's owners and admins make its templates."


def _course_create(actor, tenant, **context) -> str | None:
    if is_platform_admin(actor) or role_of(actor.pk, tenant.pk) in MANAGER_ROLES:
        return None
    return "Only the tenant's owners and admins make its courses."


def _member_role(actor, tenant, *, role: str, **context) -> str | None:
    """Only owners (and platform admins) hand out, change or take away the owner role; admins the rest."""
    if is_platform_admin(actor):
        return None
    mine = role_of(actor.pk, tenant.pk)
    if mine == Role.OWNER or (mine == Role.ADMIN and role != Role.OWNER):
        return None
    if mine == Role.ADMIN:
        return "Only owners give, change or take away the owner role."
    return "Only the tenant's owners and admins manage its members."


def _lab_action(action: str, what: str):
    """A rule for one of the lab actions (LAB_ACTIONS): the actor's grants on this lab decide."""

    def rule(actor, lab, **context) -> str | None:
        if is_platform_admin(actor) or may(actor, lab, action):
            return None
        return f"You may not {what} this lab."

    return rule


RULES = {
    "lab.operate": _lab_action("operate", "start, stop or reset"),
    "lab.change": _lab_action("change", "take checkpoints of, restore or extend"),
    "lab.delete": _lab_action("delete", "delete"),
    "host.manage": _host_manage,  # create, edit, drain, enable, doctor
    "lab.request": _lab_request,  # context: owner, template, course (actor_role if already read)
    "course.create": _course_create,
    "course.issue": _course_issue,  # also enrolling students (the roster)
    "template.create": _template_create,  # obj: the tenant, None for a global template
    "member.role": _member_role,  # give, change or take away ``role``: obj is the tenant
}


def refusal(actor, action: str, obj=None, **context) -> str | None:
    """Why ``actor`` may not ``action`` ``obj`` (None: they may). The system (None) may do anything."""
    if actor is None:
        return None
    return RULES[action](actor, obj, **context)


def require(actor, action: str, obj=None, **context) -> None:
    """Raise NotAllowed, naming the rule, unless ``actor`` may ``action`` ``obj``."""
    reason = refusal(actor, action, obj, **context)
    if reason is not None:
        raise NotAllowed(reason)


# --- Grants --------------------------------------------------------------------------------------


# The django-guardian groups' names: declared here only.
def managers_group_name(tenant_id: int) -> str:
    return f"nestlab:tenant:{tenant_id}:managers"


def instructors_group_name(course_id: int) -> str:
    return f"nestlab:course:{course_id}:instructors"


def managers_group(tenant_id: int) -> Group:
    group, _ = Group.objects.get_or_create(name=managers_group_name(tenant_id))
    return group


def instructors_group(course_id: int) -> Group:
    group, _ = Group.objects.get_or_create(name=instructors_group_name(course_id))
    return group


def permissions_forget_tenant(tenant_id: int) -> None:
    """Delete the tenant's groups (its managers', its courses' instructors'), before it goes."""
    course_ids = Course.objects.filter(tenant_id=tenant_id).values_list("pk", flat=True)
    names = [managers_group_name(tenant_id), *(instructors_group_name(pk) for pk in course_ids)]
    Group.objects.filter(name__in=names).delete()


def _permissions(app_model: str, codenames) -> list[Permission]:
    app_label, model = app_model.split(".")
    rows = list(
        Permission.objects.filter(content_type__app_label=app_label, content_type__model=model, codename__in=codenames)
    )
    if len(rows) != len(set(codenames)):
        missing = set(codenames) - {p.codename for p in rows}
        raise LookupError(f"Permissions missing from the database: {sorted(missing)} (run migrate)")
    return rows


def _owner_lab_perms(role: str | None) -> tuple[str, ...]:
    if role is None:
        return ()
    return LAB_STUDENT_OWNER if role == Role.STUDENT else LAB_ALL


_UNKNOWN = object()


@transaction.atomic(savepoint=False)  # it runs inside lab_request's transaction, once per lab
def permissions_grant_for_lab(lab, *, owner_role=_UNKNOWN) -> None:
    """Grant the lab's owner, the tenant's managers and the course's instructors. Idempotent.

    ``owner_role`` saves a query when the caller already knows it."""
    perms = _permissions("labs.lab", LAB_ALL)
    by_code = {p.codename: p for p in perms}
    if owner_role is _UNKNOWN:
        owner_role = (
            Membership.objects.filter(tenant_id=lab.tenant_id, user_id=lab.owner_id)
            .values_list("role", flat=True)
            .first()
        )
    LabUserObjectPermission.objects.bulk_create(
        [
            LabUserObjectPermission(user_id=lab.owner_id, permission=by_code[code], content_object=lab)
            for code in _owner_lab_perms(owner_role)
        ],
        ignore_conflicts=True,
    )
    groups = [managers_group(lab.tenant_id)]
    if lab.course_id is not None:
        groups.append(instructors_group(lab.course_id))
    LabGroupObjectPermission.objects.bulk_create(
        [LabGroupObjectPermission(group=g, permission=p, content_object=lab) for g in groups for p in perms],
        ignore_conflicts=True,
    )


@transaction.atomic
def permissions_grant_for_course(course) -> None:
    """Grant the tenant's managers and the course's instructors on the course and its labs.

    Also brings the instructors group in line with ``course.instructors`` (members of the
    tenant who are not students), so call it again after changing the instructors. Idempotent.
    """
    course_perms = {p.codename: p for p in _permissions("labs.course", COURSE_ALL)}
    managers = managers_group(course.tenant_id)
    teachers = instructors_group(course.pk)
    rows = [
        CourseGroupObjectPermission(group=managers, permission=p, content_object=course) for p in course_perms.values()
    ]
    rows += [
        CourseGroupObjectPermission(group=teachers, permission=course_perms[c], content_object=course)
        for c in COURSE_INSTRUCTOR
    ]
    CourseGroupObjectPermission.objects.bulk_create(rows, ignore_conflicts=True)

    teaching = teachers_among(course.tenant_id, course.instructors.all())
    current = set(teachers.user_set.values_list("pk", flat=True))
    if current - teaching:
        teachers.user_set.remove(*(current - teaching))
    if teaching - current:
        teachers.user_set.add(*(teaching - current))

    lab_perms = _permissions("labs.lab", LAB_ALL)
    LabGroupObjectPermission.objects.bulk_create(
        [
            LabGroupObjectPermission(group=teachers, permission=p, content_object_id=lab_id)
            for lab_id in course.labs.values_list("pk", flat=True)
            for p in lab_perms
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def permissions_grant_for_enrollment(enrollment) -> None:
    """An enrolled student may see the course (not its roster). Idempotent."""
    CourseUserObjectPermission.objects.bulk_create(
        [
            CourseUserObjectPermission(
                user_id=enrollment.student_id, permission=p, content_object_id=enrollment.course_id
            )
            for p in _permissions("labs.course", COURSE_STUDENT)
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def permissions_sync_membership(membership) -> None:
    """Bring the member's groups and own-lab grants in line with their current role. Idempotent."""
    user = membership.user
    managers = managers_group(membership.tenant_id)
    if membership.role in MANAGER_ROLES:
        managers.user_set.add(user)
    else:
        managers.user_set.remove(user)

    taught = Course.objects.filter(tenant_id=membership.tenant_id, instructors=user).values_list("pk", flat=True)
    for course_id in taught:
        group = instructors_group(course_id)
        if membership.role in TEACHING_ROLES:
            group.user_set.add(user)
        else:
            group.user_set.remove(user)

    own_labs = Lab.objects.filter(tenant_id=membership.tenant_id, owner=user)
    LabUserObjectPermission.objects.filter(user=user, content_object__in=own_labs).delete()
    perms = {p.codename: p for p in _permissions("labs.lab", LAB_ALL)}
    LabUserObjectPermission.objects.bulk_create(
        [
            LabUserObjectPermission(user=user, permission=perms[code], content_object_id=lab_id)
            for lab_id in own_labs.values_list("pk", flat=True)
            for code in _owner_lab_perms(membership.role)
        ],
        ignore_conflicts=True,
    )
    access_forget(user)


@transaction.atomic
def permissions_revoke_membership(membership) -> None:
    """Take away everything the member held in the tenant: groups and per-object grants."""
    user = membership.user
    tenant_id = membership.tenant_id
    managers_group(tenant_id).user_set.remove(user)
    course_ids = list(Course.objects.filter(tenant_id=tenant_id).values_list("pk", flat=True))
    groups = Group.objects.filter(name__in=[instructors_group_name(pk) for pk in course_ids])
    user.groups.remove(*groups)
    LabUserObjectPermission.objects.filter(user=user, content_object__tenant_id=tenant_id).delete()
    CourseUserObjectPermission.objects.filter(user=user, content_object__tenant_id=tenant_id).delete()
    access_forget(user)
