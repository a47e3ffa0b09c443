from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the API's anonymous throttle counts sign-ins too
    yield
    cache.clear()
