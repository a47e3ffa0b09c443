"""Django validators for values that reach a Hyper-V host: thin wrappers around the rules in
``workers.hyperv.names`` (declared once, there, and used by the driver too).

Model fields use these (so ``full_clean`` in the services and the admin forms apply them) and
serializers use them, so the API answers 400 naming the field and the rule, instead of the lab
failing on the host minutes later.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

from workers.hyperv import names
from workers.hyperv.errors import InvalidValue


@deconstructible
class HostRule:
    """Runs ``workers.hyperv.names.<check>`` and turns its InvalidValue into a ValidationError."""

    def __init__(self, check: str, what: str) -> None:
        self.check = check
        self.what = what
        getattr(names, check)  # fail at import, not at the first value

    def __call__(self, value) -> None:
        try:
            getattr(names, self.check)(value, what=self.what)
        except InvalidValue as exc:
            message = exc.host_message
            # Not code "invalid": a Django form field replaces the message of an error with that
            # code by its own ("... value must be an integer."), and the admin would lose the rule.
            raise ValidationError(message[0].upper() + message[1:], code="host_rule") from None

    def __eq__(self, other) -> bool:
        return isinstance(other, HostRule) and (self.check, self.what) == (other.check, other.what)


checkpoint_name = HostRule("check_user_checkpoint_name", "checkpoint name")
base_image_path = HostRule("check_base_image_path", "base image path")
windows_folder = HostRule("check_windows_path", "VM root folder")
adapter_name = HostRule("check_adapter_name", "network adapter name")
tenant_slug = HostRule("check_tenant_slug", "slug")
memory_mb = HostRule("check_memory_mb", "memory_mb")
config_version = HostRule("check_config_version", "config_version")
secure_boot = HostRule("check_secure_boot", "secure_boot")


def base_image_for_generation(generation, path) -> None:
    """The rule that ties two template fields (``check_generation_disk``): ValidationError on
    ``base_image_path`` when a Generation 2 template names a .vhd image."""
    try:
        names.check_generation_disk(generation, path)
    except InvalidValue as exc:
        message = exc.host_message
        raise ValidationError({"base_image_path": message[0].upper() + message[1:]}, code="invalid") from None
