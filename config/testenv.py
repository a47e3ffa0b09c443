"""Choose the services ``make test`` runs against, and print them as shell exports.

Explicit variables always win. Otherwise PostgreSQL and Redis on 127.0.0.1 are used when they
answer (as on CI), and the embedded SQLite + filesystem broker when they don't, in which case the
tests that need PostgreSQL skip with a visible reason. Under CI (CI=true) nothing falls back: a
missing service is an error, because a CI run that skips those tests proves nothing.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    exports: dict[str, str] = {
        "SECRET_KEY": "nestlab-test-secret-key-not-for-production-0000000000",
        "NESTLAB_ENCRYPTION_KEY": "Q2hhbmdlTWUtdGhpcy1pcy1hLXRlc3Qta2V5LTAwMDA=",
        "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
        "DEBUG": "0",
        "NESTLAB_TLS": "0",
        "NESTLAB_ALLOW_PLAINTEXT_WINRM": "1",
    }
    in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    if not os.environ.get("DATABASE_URL"):
        if _answers(5432):
            exports["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/nestlab"
        elif in_ci:
            print("error: CI needs PostgreSQL on 127.0.0.1:5432 and it does not answer", file=sys.stderr)
            return 1
    if not os.environ.get("CELERY_BROKER_URL"):
        if _answers(6379):
            exports["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/15"
        elif in_ci:
            print("error: CI needs Redis on 127.0.0.1:6379 and it does not answer", file=sys.stderr)
            return 1
    for name, value in exports.items():
        if not os.environ.get(name):
            print(f"export {name}={shlex.quote(value)}")
    chosen_db = os.environ.get("DATABASE_URL") or exports.get("DATABASE_URL", "sqlite (embedded)")
    chosen_broker = os.environ.get("CELERY_BROKER_URL") or exports.get("CELERY_BROKER_URL", "filesystem (embedded)")
    print(f"make test: database {chosen_db}; broker {chosen_broker}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
