from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import views

router = SimpleRouter()
router.register("tenants", views.TenantViewSet, basename="tenant")
router.register("invitations", views.InvitationViewSet, basename="invitation")

_members = views.MembershipViewSet.as_view({"get": "list", "post": "create"})
_member = views.MembershipViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    path("tenants/<slug:tenant_slug>/members/", _members, name="tenant-members-list"),
    path("tenants/<slug:tenant_slug>/members/<int:pk>/", _member, name="tenant-members-detail"),
    *router.urls,
]
