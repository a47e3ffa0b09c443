import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_LIKE = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-like-secret-key-with-enough-entropy-1234567890abcdef",
    "ALLOWED_HOSTS": "nestlab.example.com",
    "NESTLAB_ENCRYPTION_KEY": "Q2hhbmdlTWUtdGhpcy1pcy1hLXRlc3Qta2V5LTAwMDA=",
    "NESTLAB_TLS": "1",
    "NESTLAB_BEHIND_PROXY": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def _manage(*args, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True)


def test_models_and_migrations_agree():
    done = _manage("makemigrations", "--check", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr


def test_deploy_check_passes_with_production_like_settings():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_LIKE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_deploy_check_fails_when_tls_is_off():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION_LIKE, "NESTLAB_TLS": "0"})
    assert done.returncode != 0
    assert "SECURE_SSL_REDIRECT" in done.stdout + done.stderr
