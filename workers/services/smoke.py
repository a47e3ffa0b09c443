"""The smoke run for a new host: one throwaway lab through create, start, checkpoint, restore,
stop and delete, each step timed and then checked with read-only calls, and nothing left behind
whatever happens (a failed step, Ctrl-C). The checklist that leads to it is deploy/REAL_HOST.md."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from config.errors import HostNotReady
from workers.hyperv.errors import HypervisorError, NotFound
from workers.hyperv.interface import HypervisorDriver, SwitchSpec, VmSpec
from workers.models import Host
from workers.services.hostcalls import driver_for
from workers.services.hosts import base_images_in_use, host_doctor_run

#: The steps, in order; ``delete`` is also the first attempt at cleaning up.
STEPS = ("create", "start", "checkpoint", "restore", "stop", "delete")
SMOKE_CHECKPOINT = "smoke"
SMOKE_TENANT = "smoke"
#: How often, and how far apart, cleaning up retries a transient failure (a merge still holding
#: the disk, a dropped connection).
CLEANUP_ATTEMPTS = 4
CLEANUP_PAUSE_S = 5.0


@dataclass
class SmokeStep:
    name: str
    status: Literal["ok", "fail", "skipped"]
    seconds: float = 0.0
    detail: str = ""


@dataclass
class SmokeReport:
    host: str
    vm_name: str
    switch_name: str
    steps: list[SmokeStep] = field(default_factory=list)
    interrupted: bool = False
    #: What could not be removed (empty when nothing is left behind).
    leftovers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.leftovers and all(step.status == "ok" for step in self.steps)


class _StepFailed(Exception):
    pass


def host_smoke_run(
    *,
    host_id: int,
    base_image: str | None = None,
    config_version: str | None = None,
    memory_mb: int = 2048,
    on_step: Callable[[SmokeStep], None] | None = None,
) -> SmokeReport:
    """Build a throwaway lab on the host and take it through every operation.

    Refuses (HostNotReady, nothing built) a host the doctor fails. Each step is timed and then
    checked with read-only calls (Get-VM, Get-VMSnapshot); the first failing step ends the run.
    Whatever happens, including KeyboardInterrupt (Ctrl-C, SIGINT), the VM, its disk and folder
    and the private switch are removed before this returns; SIGINT is ignored while that runs.
    What could not be removed is listed in ``leftovers``. The VM is tagged like a lab
    (``nestlab:<uuid> tenant:smoke``), so the reconciler would also remove one a killed run left.
    """
    host = Host.objects.get(pk=host_id)
    failed = [check for check in host_doctor_run(host_id=host_id) if check.status == "fail"]
    if failed:
        raise HostNotReady(
            f"The doctor fails {host.name} ({', '.join(check.name for check in failed)}); "
            "run manage.py host_doctor and fix those first.",
            failed=[check.name for check in failed],
        )
    host.refresh_from_db()
    image = base_image or next(iter(base_images_in_use()), None)
    if not image:
        raise HostNotReady("No base image to build from: give one (--base-image), or add a template first.")
    facts = host.facts or {}
    version = (
        config_version
        or facts.get("default_config_version")
        or max(
            facts.get("supported_config_versions") or ["10.0"], key=lambda text: tuple(int(p) for p in text.split("."))
        )
    )
    token = uuid.uuid4()
    spec = VmSpec(
        name=f"nestlab-smoke-{token.hex[:12]}",
        lab_id=token,
        tenant_slug=SMOKE_TENANT,
        vcpus=2,
        memory_mb=memory_mb,
        disk_gb=40,
        base_image_path=image,
        vm_root=host.vm_root,
        generation=2,
        config_version=version,
        switch_name=f"nestlab-smoke-{token.hex[:12]}",
    )
    report = SmokeReport(host=host.name, vm_name=spec.name, switch_name=spec.switch_name)
    driver = driver_for(host)
    try:
        _run_steps(driver, spec, report, on_step)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        with _sigint_ignored():
            report.leftovers = _clean_up(driver, spec)
    return report


def _run_steps(
    driver: HypervisorDriver, spec: VmSpec, report: SmokeReport, on_step: Callable[[SmokeStep], None] | None
) -> None:
    name = spec.name

    def state_is(expected: str) -> str:
        status = driver.vm_status(name)
        if status.state != expected:
            raise _StepFailed(f"the VM is {status.state}, not {expected}")
        return f"state {status.state}, heartbeat {status.heartbeat or 'none yet'}"

    def create() -> str:
        driver.ensure_switch(SwitchSpec(name=spec.switch_name, mode="private"))
        driver.ensure_vm(spec)
        if name not in {vm.name for vm in driver.list_tagged_vms()}:
            raise _StepFailed("the VM is not listed among the tagged VMs")
        return state_is("Off")

    def start() -> str:
        driver.start_vm(name)
        return state_is("Running")

    def checkpoint() -> str:
        driver.checkpoint_vm(name, SMOKE_CHECKPOINT)
        names = driver.checkpoint_names(name)
        if SMOKE_CHECKPOINT not in names:
            raise _StepFailed(f"the checkpoint is not listed (the VM has {', '.join(names) or 'none'})")
        return "checkpoints: " + ", ".join(names)

    def restore() -> str:
        driver.restore_vm(name, SMOKE_CHECKPOINT)
        return state_is("Running")

    def stop() -> str:
        driver.stop_vm(name)
        return state_is("Off")

    def delete() -> str:
        driver.delete_vm(name, vm_root=spec.vm_root)
        driver.remove_switch(spec.switch_name)
        if name in {vm.name for vm in driver.list_tagged_vms()}:
            raise _StepFailed("the VM is still listed")
        try:
            driver.vm_status(name)
        except NotFound:
            return "the VM is gone"
        raise _StepFailed("Get-VM still finds the VM")

    actions = dict(create=create, start=start, checkpoint=checkpoint, restore=restore, stop=stop, delete=delete)
    failed = False
    for step_name in STEPS:
        if failed:
            step = SmokeStep(step_name, "skipped")
        else:
            started = time.monotonic()
            try:
                detail = actions[step_name]()
                step = SmokeStep(step_name, "ok", time.monotonic() - started, detail)
            except (HypervisorError, _StepFailed) as exc:
                failed = True
                text = exc.host_message if isinstance(exc, HypervisorError) else str(exc)
                kind = type(exc).__name__ if isinstance(exc, HypervisorError) else "check failed"
                step = SmokeStep(step_name, "fail", time.monotonic() - started, f"{kind}: {text}")
        report.steps.append(step)
        if on_step is not None:
            on_step(step)


def _clean_up(driver: HypervisorDriver, spec: VmSpec) -> list[str]:
    """Remove the VM (disk and folder too) and the switch; say what is left. Absent is fine."""
    leftovers = []
    for what, remove in (
        (f"VM {spec.name} and its folder {spec.folder}", lambda: driver.delete_vm(spec.name, vm_root=spec.vm_root)),
        (f"switch {spec.switch_name}", lambda: driver.remove_switch(spec.switch_name, force=True)),
    ):
        for attempt in range(1, CLEANUP_ATTEMPTS + 1):
            try:
                remove()
                break
            except HypervisorError as exc:
                if not exc.transient or attempt == CLEANUP_ATTEMPTS:
                    leftovers.append(f"{what}: {type(exc).__name__}: {exc.host_message}")
                    break
                time.sleep(CLEANUP_PAUSE_S)
    return leftovers


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """A second Ctrl-C must not cut the cleanup short (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
