"""Django's standard LoginView, as the portal will mount it, plus the project's own URLs."""

from django.contrib.auth.views import LoginView
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("portal/login/", LoginView.as_view(template_name="admin/login.html"), name="portal-login")]
urlpatterns += project_urlpatterns
