from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown API paths answer in the API's error format, not with an HTML page."""
    return JsonResponse({"code": "not_found", "message": "No such endpoint.", "detail": "Not found."}, status=404)


api_v1 = [
    path("auth/", include("accounts.urls")),
    path("", include("tenants.api.urls")),
    path("", include("labs.api.urls")),
    path("", include("workers.api.urls")),
    re_path(r"", api_not_found),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
