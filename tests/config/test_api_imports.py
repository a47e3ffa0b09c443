"""``config/api/`` imports one way (see its ``__init__``): DRF imports the classes its settings name
while ``rest_framework.views`` is itself being imported, so the modules holding them must not
import DRF's views back; the base viewset and the schema, which DRF resolves later, may.

Each check runs in a fresh interpreter, because the order of the first imports is what matters.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VIEW_MODULES = ("rest_framework.views", "rest_framework.generics", "rest_framework.viewsets")
LEAVES = (
    "config.api",
    "config.api.access",
    "config.api.fields",
    "config.api.filters",
    "config.api.pagination",
    "config.api.parsers",
    "config.api.throttles",
)
SETUP = "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup(); "


def _python(code: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-c", SETUP + code], cwd=ROOT, env=os.environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_leaves_never_import_drfs_views():
    code = (
        f"assert not any(m in sys.modules for m in {VIEW_MODULES!r}), 'views loaded by setup'; "
        f"import importlib; [importlib.import_module(m) for m in {LEAVES!r}]; "
        f"print(sorted(m for m in {VIEW_MODULES!r} if m in sys.modules))"
    )
    assert _python(code).stdout.split()[-1] == "[]"


@pytest.mark.parametrize(
    "first",
    [
        "rest_framework.generics",
        "rest_framework.viewsets",
        "config.api.viewsets",
        "config.api.schema",
        "config.api.errors",
        "labs.api.views",
        "accounts.api",
    ],
)
def test_any_first_import_builds_the_views_with_our_classes(first):
    code = (
        f"import {first}; "
        "from rest_framework.generics import GenericAPIView; from config.api.viewsets import NestlabViewSet; "
        "print(GenericAPIView.pagination_class.__module__, GenericAPIView.throttle_classes[-1].__name__, "
        "NestlabViewSet.filter_backends[0].__name__, NestlabViewSet.parser_classes[0].__module__)"
    )
    assert _python(code).stdout.split()[-4:] == [
        "config.api.pagination",
        "TenantThrottle",
        "StrictFilterBackend",
        "config.api.parsers",
    ]
