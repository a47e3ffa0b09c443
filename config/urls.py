from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown API paths answer in the API's error format, not with an HTML page."""
    return JsonResponse({"code": "not_found", "message": "No such endpoint.", "detail": "Not found."}, status=404)


def _api_or_html(code: str, status: int, message: str, html_view):
    """Django's error views, answering in the API's JSON error format under /api/."""

    def view(request, *args, **kwargs):
        if request.path.startswith("/api/"):
            return JsonResponse({"code": code, "message": message, "detail": message}, status=status)
        return html_view(request, *args, **kwargs)

    return view


handler400 = _api_or_html("bad_request", 400, "The request could not be read.", defaults.bad_request)
handler403 = _api_or_html("permission_denied", 403, "You may not do this.", defaults.permission_denied)
handler404 = _api_or_html("not_found", 404, "No such endpoint.", defaults.page_not_found)
handler500 = _api_or_html(
    "server_error", 500, "The server failed to answer this request; the error is logged.", defaults.server_error
)


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
