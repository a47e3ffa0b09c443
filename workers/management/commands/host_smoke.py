"""Take a throwaway lab through every operation on a host, timed, and leave nothing behind."""

import signal

from django.core.management.base import BaseCommand, CommandError

from config.errors import HostNotReady
from workers.models import Host
from workers.services.smoke import SmokeStep, host_smoke_run

MARKS = {"ok": "OK  ", "fail": "FAIL", "skipped": "SKIP"}


class Command(BaseCommand):
    help = (
        "Build a throwaway lab on a host (create, start, checkpoint, restore, stop, delete), time and check each "
        "step, and remove everything afterwards, also after a failure or Ctrl-C. Refuses a host the doctor fails. "
        "Exit 1 unless every step passed and nothing was left behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("host", help="the host's name")
        parser.add_argument("--base-image", help="base VHDX on the host (default: the first active template's)")
        parser.add_argument("--config-version", help="VM configuration version (default: the host's default)")
        parser.add_argument("--memory-mb", type=int, default=2048, help="the lab VM's memory (default 2048)")

    def handle(self, *args, host, base_image, config_version, memory_mb, **options):
        row = Host.objects.filter(name=host).first()
        if row is None:
            known = ", ".join(Host.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No host named {host!r}. Known hosts: {known}.")
        # SIGTERM (a closed terminal, a supervisor) cleans up like Ctrl-C does.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            report = host_smoke_run(
                host_id=row.pk,
                base_image=base_image,
                config_version=config_version,
                memory_mb=memory_mb,
                on_step=self._print_step,
            )
        except HostNotReady as exc:
            raise CommandError(f"Refused: {exc.message}")
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write(f"lab VM {report.vm_name} on switch {report.switch_name}")
        if report.interrupted:
            self.stdout.write("interrupted: the remaining steps did not run")
        if report.leftovers:
            self.stdout.write("LEFT BEHIND (remove by hand, see deploy/REAL_HOST.md, 'Cleaning up by hand'):")
            for item in report.leftovers:
                self.stdout.write(f"  {item}")
        else:
            self.stdout.write("cleaned up: nothing left behind")
        if not report.ok:
            failed = [step.name for step in report.steps if step.status == "fail"]
            why = "interrupted" if report.interrupted else f"failed at {', '.join(failed) or 'cleanup'}"
            raise CommandError(f"host_smoke {row.name}: {why}.")
        self.stdout.write(self.style.SUCCESS(f"{row.name} passed the smoke run."))

    def _print_step(self, step: SmokeStep) -> None:
        self.stdout.write(f"{MARKS[step.status]}  {step.name:<10} {step.seconds:7.1f} s  {step.detail}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt
