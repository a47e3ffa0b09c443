"""``/api/v1/auth/``: obtain a token with a username and password, log out, log out everywhere.

Sign-in goes through ``django.contrib.auth.authenticate`` with the Django request, so
django-axes counts failures and refuses locked-out callers here exactly as on the admin login.
"""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in, user_logged_out
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import lockout, services
from accounts.authentication import TokenAuthentication
from config.api.parsers import JSONParser
from config.api.schema import ErrorSerializer


class LoginLocked(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "login_locked"
    default_detail = "Too many failed sign-ins for this account or from this address. Try again later."


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, write_only=True
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown only this once.")
    expiry = serializers.DateTimeField(help_text="When the token lapses unless used; each use moves it on.")


class TokenObtainView(APIView):
    """Exchange a username and password for an API token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    # As DRF's ObtainAuthToken did: scripts may post a form (curl -d) as well as JSON.
    parser_classes = (JSONParser, FormParser, MultiPartParser)

    @extend_schema(
        summary="Obtain an API token",
        request=TokenObtainSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="Wrong username or password"),
            429: OpenApiResponse(ErrorSerializer, description="Too many failed sign-ins (code login_locked)"),
        },
        auth=[],
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        django_request = request._request  # django-axes flags the Django request, not DRF's wrapper
        user = authenticate(django_request, **serializer.validated_data)
        if getattr(django_request, "axes_locked_out", False):
            exc = LoginLocked()
            exc.wait = lockout.cool_off_seconds()  # DRF's handler turns it into Retry-After
            raise exc
        if user is None:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]}, code="authorization"
            )
        instance, key = services.token_issue(user=user)
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        return Response(TokenSerializer({"token": key, "expiry": instance.expiry}).data)


class LogoutView(APIView):
    """Revoke the token this request is signed with."""

    authentication_classes = (TokenAuthentication,)
    permission_classes = (IsAuthenticated,)

    @extend_schema(summary="Log out: revoke this token", request=None, responses={204: None})
    def post(self, request):
        services.token_revoke(token=request.auth)
        user_logged_out.send(sender=request.user.__class__, request=request._request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every token of the signed-in user (token or session)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(summary="Log out everywhere: revoke all your tokens", request=None, responses={204: None})
    def post(self, request):
        services.tokens_revoke_all(user=request.user, reason="logged out everywhere")
        user_logged_out.send(sender=request.user.__class__, request=request._request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
