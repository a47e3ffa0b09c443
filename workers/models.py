from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from config import validators as host_rules
from workers import crypto

hostname = RegexValidator(
    r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[?[0-9a-fA-F:.]+\]?$",
    "Give a DNS name or an IP address (no scheme, no port, no path).",
)


class Transport(models.TextChoices):
    NTLM = "ntlm", "NTLM"
    KERBEROS = "kerberos", "Kerberos"
    CREDSSP = "credssp", "CredSSP"
    SSL = "ssl", "Basic over HTTPS"
    PLAINTEXT = "plaintext", "Basic over HTTP (simulator only)"


class HostState(models.TextChoices):
    ENABLED = "enabled", "Enabled"  # takes new labs
    DRAINING = "draining", "Draining"  # keeps its labs, takes no new ones
    OFFLINE = "offline", "Offline"  # does not answer; its labs are degraded


class Host(models.Model):
    """A Hyper-V host that Nestlab places labs on, reached over WinRM."""

    name = models.CharField(max_length=63, unique=True, validators=[hostname])
    endpoint = models.CharField("WinRM host name or address", max_length=253, validators=[hostname])
    port = models.PositiveIntegerField(default=5986, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    transport = models.CharField(max_length=12, choices=Transport.choices, default=Transport.NTLM)
    use_tls = models.BooleanField("HTTPS", default=True)
    username = models.CharField(max_length=150)
    password_ciphertext = models.TextField(editable=False, blank=True)
    site = models.SlugField(
        max_length=40, default="default", help_text="Worker pool that serves this host (Celery queue hosts.<site>)."
    )
    logical_cpus = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    memory_mb = models.PositiveIntegerField("memory (MB)", validators=[MinValueValidator(1)])
    memory_reserved_mb = models.PositiveIntegerField(
        "memory reserved for the host OS (MB)", default=4096, help_text="Never given to labs."
    )
    storage_gb = models.PositiveIntegerField("storage (GB)", validators=[MinValueValidator(1)])
    vcpu_overcommit = models.DecimalField(
        "vCPU overcommit ratio", max_digits=4, decimal_places=2, default=4, validators=[MinValueValidator(1)]
    )
    max_parallel_operations = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)], help_text="Host operations at once, across all workers."
    )
    vm_root = models.CharField(
        max_length=200,
        default=r"C:\Nestlab\Labs",
        validators=[host_rules.windows_folder],
        help_text="Local folder on the host where each lab gets its own folder and disk.",
    )
    external_adapter = models.CharField(
        max_length=100,
        blank=True,
        validators=[host_rules.adapter_name],
        help_text="Physical NIC for VLAN-mode external switches.",
    )
    state = models.CharField(max_length=10, choices=HostState.choices, default=HostState.ENABLED)
    resume_state = models.CharField(
        max_length=10,
        choices=HostState.choices,
        blank=True,
        editable=False,
        help_text="The state to return to when an offline host answers again.",
    )
    facts = models.JSONField(default=dict, blank=True, editable=False)
    doctor_report = models.JSONField(default=list, blank=True, editable=False)
    last_seen = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False, help_text="Why the host last failed to answer.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(transport__in=Transport.values), name="host_transport_valid"),
            models.CheckConstraint(condition=Q(state__in=HostState.values), name="host_state_valid"),
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="host_port_valid"),
            models.CheckConstraint(condition=Q(vcpu_overcommit__gte=1), name="host_overcommit_at_least_1"),
            models.CheckConstraint(condition=Q(logical_cpus__gt=0), name="host_cpus_positive"),
            models.CheckConstraint(condition=Q(memory_mb__gt=0), name="host_memory_positive"),
            models.CheckConstraint(condition=Q(storage_gb__gt=0), name="host_storage_positive"),
            models.CheckConstraint(
                condition=Q(memory_reserved_mb__lt=models.F("memory_mb")), name="host_reserve_below_memory"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the credential
        return f"<Host {self.name} {self.endpoint}:{self.port} {self.transport}>"

    def set_password(self, raw: str) -> None:
        self.password_ciphertext = crypto.encrypt(raw)

    def get_password(self) -> str:
        return crypto.decrypt(self.password_ciphertext) if self.password_ciphertext else ""

    @property
    def has_password(self) -> bool:
        return bool(self.password_ciphertext)

    @property
    def vcpu_capacity(self) -> int:
        return int(self.logical_cpus * self.vcpu_overcommit)

    @property
    def memory_capacity_mb(self) -> int:
        return self.memory_mb - self.memory_reserved_mb


class Allocation(models.Model):
    """The capacity ledger: what one lab holds on one host, from placement until its VM is gone."""

    lab = models.OneToOneField("labs.Lab", on_delete=models.PROTECT, related_name="allocation")
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="allocations")
    vcpus = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()
    storage_gb = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(vcpus__gt=0, memory_mb__gt=0, storage_gb__gt=0), name="allocation_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lab_id} on {self.host}: {self.vcpus} vCPU, {self.memory_mb} MB, {self.storage_gb} GB"


class TenantSegment(models.Model):
    """A tenant's network identity across hosts: its access VLAN and its NAT prefix, from pools."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="segment")
    vlan_id = models.PositiveSmallIntegerField(
        null=True, blank=True, unique=True, validators=[MinValueValidator(1), MaxValueValidator(4094)]
    )
    nat_prefix = models.CharField(max_length=43, null=True, blank=True, unique=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(vlan_id__isnull=True) | Q(vlan_id__gte=1, vlan_id__lte=4094), name="segment_vlan_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"segment of {self.tenant}: vlan {self.vlan_id}, nat {self.nat_prefix}"


class LabSegment(models.Model):
    """The NAT prefix of one lab whose template asks for a network of its own (network scope
    ``lab``): its switch's gateway and its guests' segment, from NESTLAB_NAT_POOL like a tenant's,
    never the same as another lab's or tenant's. Given back once the lab is no longer live."""

    lab = models.OneToOneField("labs.Lab", on_delete=models.CASCADE, related_name="segment")
    nat_prefix = models.CharField(max_length=43, unique=True)

    def __str__(self) -> str:
        return f"segment of lab {self.lab_id}: nat {self.nat_prefix}"


class TenantSwitch(models.Model):
    """A virtual switch on one host, for one tenant (or one lab, per the template's network scope)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="switches")
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="switches")
    lab = models.OneToOneField("labs.Lab", null=True, blank=True, on_delete=models.SET_NULL, related_name="switch")
    name = models.CharField(max_length=64)
    mode = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)
    ensured_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last made sure the switch exists on the host."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "name"], name="switch_name_unique_per_host"),
            models.UniqueConstraint(
                fields=["tenant", "host", "mode"], condition=Q(lab__isnull=True), name="switch_one_per_tenant_host_mode"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.host}"


class HostLease(models.Model):
    """A named lease on something of one host, held by one worker while it talks to the host.

    Keys are ``slot:<n>`` for the host's operation slots (Host.max_parallel_operations, a limit
    that must hold across every worker process on every machine) and ``switch:<name>`` so two
    workers never create the same switch at once (Hyper-V would make two with one name). They
    live in the shared database: a worker claims a free or expired lease with a compare-and-set
    UPDATE and frees it when done; a crashed worker's lease simply expires.
    """

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="leases")
    key = models.CharField(max_length=100)
    holder = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "key"], name="lease_one_row_per_key")]

    def __str__(self) -> str:
        return f"{self.host_id} {self.key}: {self.holder or 'free'}"


class OrphanSighting(models.Model):
    """A tagged VM the reconciler found without a live lab; deleted once seen past the grace period."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="orphans")
    vm_name = models.CharField(max_length=100)
    vm_id = models.CharField(max_length=64)
    first_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "vm_id"], name="orphan_one_row_per_vm")]

    def __str__(self) -> str:
        return f"orphan {self.vm_name} on {self.host_id} since {self.first_seen:%Y-%m-%d %H:%M}"
