"""``make run``: all of Nestlab on the embedded default, on one machine.

SQLite under var/, a filesystem Celery broker under var/broker/, and the processes of
deploy/Procfile.dev (web, worker, beat, simulated hosts) under honcho. Development secrets are
generated once into var/dev.env so restarts can still read stored host credentials.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DEV_ENV = VAR / "dev.env"


def _dev_secrets() -> dict[str, str]:
    if not DEV_ENV.exists():
        DEV_ENV.write_text(
            f"SECRET_KEY={secrets.token_urlsafe(48)}\nNESTLAB_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n"
        )
        DEV_ENV.chmod(0o600)
    pairs = (line.split("=", 1) for line in DEV_ENV.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    for key, value in _dev_secrets().items():
        env.setdefault(key, value)
    env.setdefault("DEBUG", "1")
    env.setdefault("NESTLAB_ALLOW_PLAINTEXT_WINRM", "1")
    env.setdefault("NESTLAB_PORT", "8000")
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    for folder in (VAR, VAR / "broker" / "queue", VAR / "broker" / "processed", VAR / "hvsim"):
        folder.mkdir(parents=True, exist_ok=True)
    env = _environment()
    _manage(env, "migrate", "--no-input", "-v", "0")
    _manage(env, "seed_demo")
    _manage(env, "register_demo_hosts")
    url = f"http://127.0.0.1:{env['NESTLAB_PORT']}"
    print(
        "\n".join(
            [
                "",
                f"Nestlab is starting at {url}/",
                f"  admin (platform admin):  {url}/admin/   user admin",
                f"  API and its docs:        {url}/api/docs/",
                "  demo users: acme-admin, acme-instructor, acme-student1, acme-student2 (and globex-...)",
                "  every demo password:     nestlab-demo",
                "Stop with Ctrl-C.",
                "",
            ]
        ),
        flush=True,
    )
    honcho = Path(sys.executable).with_name("honcho")
    return subprocess.call(
        [str(honcho), "-d", str(ROOT), "-f", str(ROOT / "deploy" / "Procfile.dev"), "start"], env=env
    )


if __name__ == "__main__":
    sys.exit(main())
