from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from config.admin import ViewOnlyAdminMixin
from labs import services
from labs.models import VERSIONED_FIELDS, Course, Enrollment, Lab, LabEvent, LabTemplate, LabTemplateVersion
from labs.services import TEMPLATE_EDITABLE
from workers.models import Host
from workers.services.placement import version_host_notes


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LabTemplateVersionInline(ReadOnlyInline):
    """Versions are immutable and numbered by the services: edit the shape above to add one."""

    model = LabTemplateVersion
    fields = ["version", *VERSIONED_FIELDS, "created_at", "hosts_ruled_out"]
    readonly_fields = fields

    @admin.display(description="hosts this version rules out")
    def hosts_ruled_out(self, version):
        if version.pk is None:
            return "-"
        notes = version_host_notes(version, list(Host.objects.order_by("name")), with_names=True)
        return "; ".join(f"{note['host']}: {note['reason']}" for note in notes) or "none"


class _LabTemplateForm(forms.ModelForm):
    """The template and its shape: version 1's on add, the latest version's on change (changing it
    adds a version). The shape's fields and rules are the LabTemplateVersion model's."""

    class Meta:
        model = LabTemplate
        fields = ["tenant", "name", "description", "self_service", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        latest = self.instance.versions.order_by("-version").first() if self.instance.pk else None
        if latest is not None:
            for name in VERSIONED_FIELDS:
                self.initial.setdefault(name, getattr(latest, name))

    def clean(self):
        data = super().clean()
        shape = {name: data[name] for name in VERSIONED_FIELDS if name in data}
        if len(shape) == len(VERSIONED_FIELDS):
            try:  # the services' own check (_version_add), before anything is saved
                LabTemplateVersion(**shape).full_clean(exclude=["template", "version"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


#: The shape fields come from the model (VERSIONED_FIELDS, with the model's validators and defaults).
LabTemplateForm = type(_LabTemplateForm)(  # ModelFormMetaclass, as a class statement would use
    "LabTemplateForm",
    (_LabTemplateForm,),
    {"__module__": __name__, **forms.fields_for_model(LabTemplateVersion, fields=VERSIONED_FIELDS)},
)


@admin.register(LabTemplate)
class LabTemplateAdmin(admin.ModelAdmin):
    """Saves go through ``template_create`` (the template with its version 1), ``template_update``
    and ``template_revise`` (a shape change adds a version), as the API's do."""

    form = LabTemplateForm
    list_display = ["name", "tenant", "self_service", "active"]
    list_filter = ["self_service", "active", "tenant"]
    search_fields = ["name"]
    inlines = [LabTemplateVersionInline]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant"] if obj else []  # a template stays with its tenant (labs pin its versions)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        shape = {name: data[name] for name in VERSIONED_FIELDS}
        if not change:
            template = services.template_create(
                actor=request.user,
                tenant=data["tenant"],
                name=data["name"],
                description=data["description"],
                self_service=data["self_service"],
                **shape,
            )
            if not data["active"]:
                services.template_update(actor=request.user, template=template, active=False)
            obj.pk = template.pk
            return
        services.template_update(actor=request.user, template=obj, **{name: data[name] for name in TEMPLATE_EDITABLE})
        latest = obj.versions.order_by("-version").first()
        changes = {name: value for name, value in shape.items() if latest is None or getattr(latest, name) != value}
        if changes:
            services.template_revise(actor=request.user, template=obj, **changes)


class LabEventInline(ReadOnlyInline):
    model = LabEvent
    fields = ["at", "event", "from_state", "to_state", "actor", "message"]
    readonly_fields = fields
    ordering = ["at", "id"]


@admin.register(Lab)
class LabAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Labs are changed only through their lifecycle; the admin shows them and their history."""

    list_display = ["name", "tenant", "owner", "state", "host", "expires_at", "created_at"]
    list_filter = ["state", "tenant", "host"]
    search_fields = ["id", "name", "owner__username", "vm_name"]
    list_select_related = ["tenant", "owner", "host"]
    readonly_fields = [f.name for f in Lab._meta.fields]
    inlines = [LabEventInline]


class EnrollmentInlineForm(forms.ModelForm):
    class Meta:
        model = Enrollment
        fields = ["student"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["student"].disabled = True


class EnrollmentInline(admin.TabularInline):
    """Add students here (enrollment_add grants them the course); existing rows are read-only."""

    model = Enrollment
    extra = 0
    can_delete = False
    autocomplete_fields = ["student"]
    readonly_fields = ["status", "lab"]
    form = EnrollmentInlineForm


class CourseAdminForm(forms.ModelForm):
    """Refuses instructors who may not teach before anything is saved (the service's own check)."""

    class Meta:
        model = Course
        fields = [
            "tenant",
            "name",
            "template",
            "instructors",
            "starts_at",
            "ends_at",
            "hours_per_student",
            "lab_lifetime",
        ]

    def clean(self):
        data = super().clean()
        tenant, instructors = data.get("tenant"), data.get("instructors")
        if tenant is not None and instructors:
            try:
                services.course_instructors_check(tenant=tenant, instructors=instructors)
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    """Saves go through the course services, so instructors and students get their grants."""

    form = CourseAdminForm

    list_display = ["name", "tenant", "template", "starts_at", "ends_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    filter_horizontal = ["instructors"]
    inlines = [EnrollmentInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not Enrollment:
            return super().save_formset(request, form, formset, change)
        for enrollment in formset.save(commit=False):
            if enrollment.pk is None:
                services.enrollment_add(actor=request.user, course=enrollment.course, student=enrollment.student)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.course_instructors_set(
            actor=request.user, course=form.instance, instructors=form.cleaned_data["instructors"]
        )
