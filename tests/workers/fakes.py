"""One FakeDriver per host, for unit tests of the worker services (NESTLAB_DRIVER_FACTORY)."""

from __future__ import annotations

from workers.hyperv.fake import FakeDriver

BASE_IMAGE = r"C:\NestlabImages\win2022-base.vhdx"
drivers: dict[int, FakeDriver] = {}


def driver_for_host(host) -> FakeDriver:
    return drivers.setdefault(host.pk, FakeDriver(base_images={BASE_IMAGE}))
