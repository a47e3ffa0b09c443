"""The embedded SQLite database takes writes from several processes at once (web, worker, beat)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys
import django
django.setup()
from django.contrib.auth import get_user_model
from labs.models import LabTemplate
from labs.services import lab_request
admin = get_user_model().objects.get(username="acme-admin")
template = LabTemplate.objects.get(name="acme-lab")
made = 0
for _ in range(int(sys.argv[1])):
    try:
        lab_request(actor=admin, template=template)
        made += 1
    except Exception as exc:
        if type(exc).__name__ != "QuotaExceeded":
            raise
print(made)
"""


@pytest.mark.timeout(240)
def test_several_processes_write_to_sqlite_at_once_without_locking_errors(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'nestlab.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "NESTLAB_VAR_DIR": str(tmp_path),
        "DEBUG": "1",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )

    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    manage(
        "shell",
        "-c",
        "from tenants.models import Quota; Quota.objects.filter(tenant__slug='acme').update("
        "max_labs=25, max_running_labs=1000, max_vcpus=1000, max_memory_mb=10**7)",
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, "15"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [writer.communicate(timeout=200) for writer in writers]
    assert all(writer.returncode == 0 for writer in writers), [err[-800:] for _, err in results]
    assert sum(int(out.strip()) for out, _ in results) == 25  # the quota held across processes
    count = manage("shell", "-c", "from labs.models import Lab; print(Lab.objects.count())").stdout.split()[-1]
    assert count == "25"
