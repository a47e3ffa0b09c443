"""What every benchmark needs: Django set up outside the test runner, and a throwaway database.

Benchmarks never touch the configured database: they create ``<name>_bench_<what>`` with
Django's test-database machinery, migrate it, and drop it at the end.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SECRET_KEY": "bench-secret-key-not-for-production-000000000000",
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
    "NESTLAB_ENCRYPTION_KEY": "Q2hhbmdlTWUtdGhpcy1pcy1hLXRlc3Qta2V5LTAwMDA=",
    "NESTLAB_TLS": "0",
    "NESTLAB_ALLOW_PLAINTEXT_WINRM": "1",
}


def setup_django() -> None:
    """Import path, environment defaults (explicit variables win) and django.setup()."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for name, value in BENCH_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def require_postgres(script: str) -> bool:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return True
    print(f"{script} needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
    return False


@contextmanager
def throwaway_database(what: str):
    """Create, migrate and finally drop ``<configured name>_bench_<what>``; yields its name."""
    from django.conf import settings
    from django.db import connection

    name = f"{settings.DATABASES['default']['NAME']}_bench_{what}"
    settings.DATABASES["default"]["TEST"]["NAME"] = name
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield name
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
