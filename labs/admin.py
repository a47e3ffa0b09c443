from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from labs import services
from labs.models import Course, Enrollment, Lab, LabEvent, LabTemplate, LabTemplateVersion
from labs.services import VERSIONED_FIELDS


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LabTemplateVersionInline(admin.TabularInline):
    """Versions are immutable once saved: add a new one to change a template's shape."""

    model = LabTemplateVersion
    extra = 0
    can_delete = False
    fields = ["version", *VERSIONED_FIELDS]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LabTemplate)
class LabTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "self_service", "active"]
    list_filter = ["self_service", "active", "tenant"]
    search_fields = ["name"]
    inlines = [LabTemplateVersionInline]


class LabEventInline(ReadOnlyInline):
    model = LabEvent
    fields = ["at", "event", "from_state", "to_state", "actor", "message"]
    readonly_fields = fields
    ordering = ["at", "id"]


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    """Labs are changed only through their lifecycle; the admin shows them and their history."""

    list_display = ["name", "tenant", "owner", "state", "host", "expires_at", "created_at"]
    list_filter = ["state", "tenant", "host"]
    search_fields = ["id", "name", "owner__username", "vm_name"]
    list_select_related = ["tenant", "owner", "host"]
    readonly_fields = [f.name for f in Lab._meta.fields]
    inlines = [LabEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
        fields = ["tenant", "name", "template", "instructors", "starts_at", "ends_at", "hours_per_student",
                  "lab_lifetime"]

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
