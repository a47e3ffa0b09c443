"""``manage.py hvsim [options]``: the Hyper-V host simulator, same options as
``python -m workers.hyperv.simulator`` (see ``--help``). The simulator itself never imports Django."""

from django.core.management.base import BaseCommand

from workers.hyperv.simulator.cli import main


class Command(BaseCommand):
    help = "Run hvsim, the Hyper-V host simulator (WinRM at /wsman). Options as python -m workers.hyperv.simulator."

    def run_from_argv(self, argv: list[str]) -> None:
        raise SystemExit(main(argv[2:]))
