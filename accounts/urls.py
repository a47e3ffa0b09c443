from django.urls import path

from accounts import api

urlpatterns = [
    path("token/", api.TokenObtainView.as_view(), name="api-token"),
    path("logout/", api.LogoutView.as_view(), name="api-logout"),
    path("logout-all/", api.LogoutAllView.as_view(), name="api-logout-all"),
]
