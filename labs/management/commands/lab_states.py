"""Print the lab lifecycle as a Mermaid state diagram, generated from labs.states.TRANSITIONS."""

from django.core.management.base import BaseCommand

from labs.states import state_diagram


class Command(BaseCommand):
    help = "Print the lab state diagram (Mermaid) generated from the transition table."

    def handle(self, *args, **options):
        self.stdout.write(state_diagram())
