from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in: API tokens (django-rest-knox) and login limits (django-axes)."""

    name = "accounts"

    def ready(self) -> None:
        from accounts import receivers  # noqa: F401, PLC0415  (Django: connect receivers once apps are ready)
