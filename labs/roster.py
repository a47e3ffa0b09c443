"""A course roster from CSV or JSON: parse strictly, then import all rows or none.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first student row 2.
Every error names the row and the column, and all of them are reported at once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from config.errors import RosterTooLarge
from labs.services import enrollment_add, enrollment_invite
from tenants import permissions as tenant_permissions
from tenants.invitations import person_add
from tenants.models import Role

MAX_ROWS = 2000
#: One limit for every way a roster arrives: a CSV body, a CSV file in a form, a JSON list.
MAX_ROSTER_BYTES = 2 * 1024 * 1024
COLUMNS = ("email", "name")
_MAX_REPORTED = 50


@dataclass(frozen=True)
class RosterEntry:
    row: int
    email: str
    name: str


@dataclass
class RosterResult:
    """The answer tells apart only the tenant's own members; about anyone else it says "invited"."""

    rows: int
    enrolled: int  # rows of people already members of the tenant: enrolled now
    invited: int  # every other row: an invitation went out
    enrollments: list  # the enrolled rows' enrollments


def roster_check_size(size: int) -> None:
    """Refuse a roster (a request body or an uploaded file) of more than MAX_ROSTER_BYTES."""
    if size > MAX_ROSTER_BYTES:
        raise RosterTooLarge(
            f"The roster is larger than {MAX_ROSTER_BYTES // 1024} KiB; split it into smaller uploads.",
            limit_bytes=MAX_ROSTER_BYTES,
        )


def _fail(errors: list[str]) -> None:
    shown = errors[:_MAX_REPORTED]
    if len(errors) > _MAX_REPORTED:
        shown.append(f"... and {len(errors) - _MAX_REPORTED} more errors.")
    raise ValidationError({"roster": shown})


def roster_from_csv(data: bytes) -> list[RosterEntry]:
    """Parse ``email,name`` CSV (UTF-8, optional BOM). Raises ValidationError naming rows and columns,
    RosterTooLarge beyond MAX_ROSTER_BYTES."""
    roster_check_size(len(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail([_encoding_error(data, exc.start)])
    if "\x00" in text:
        _fail(["The file contains NUL bytes; upload a plain-text CSV."])
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        _fail(["row 1: the file is empty; it needs a header row with the columns email,name."])
    except csv.Error as exc:
        _fail([f"row 1: {exc}"])
    names = [column.strip().lower() for column in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        _fail([f"row 1, column {column}: missing from the header (need: email,name)." for column in missing])
    position = {column: names.index(column) for column in COLUMNS}
    raw: list[dict] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            if len(raw) >= MAX_ROWS:
                _fail([f"row {number}: too many rows; a roster holds at most {MAX_ROWS} students."])
            value = {c: (cells[i].strip() if i < len(cells) else None) for c, i in position.items()}
            raw.append({"row": number, **value})
    except csv.Error as exc:
        _fail([f"row {reader.line_num}: {exc}"])
    return roster_validate(raw)


def _encoding_error(data: bytes, position: int) -> str:
    """Name the row and (when the header can be read) the column of the first non-UTF-8 byte."""
    line = data[:position].count(b"\n") + 1
    line_start = data.rfind(b"\n", 0, position) + 1
    column_index = data[line_start:position].count(b",")
    where = f"row {line}"
    header = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    names = [name.strip().lower() for name in header.split(",")]
    if line > 1 and column_index < len(names):
        where += f", column {names[column_index]}"
    return f"{where}: the file is not UTF-8 (byte {position + 1}); save it as CSV UTF-8."


def roster_validate(items: list[dict]) -> list[RosterEntry]:
    """Check entries (``row``, ``email``, ``name``): valid and unique e-mails, at most MAX_ROWS."""
    errors: list[str] = []
    if not items:
        _fail(["The roster has no students."])
    if len(items) > MAX_ROWS:
        _fail([f"row {items[MAX_ROWS]['row']}: too many rows; a roster holds at most {MAX_ROWS} students."])
    seen: dict[str, int] = {}
    entries = []
    for item in items:
        row, email, name = item["row"], item.get("email"), item.get("name")
        if email is None:
            errors.append(f"row {row}, column email: missing.")
            continue
        if name is None:
            errors.append(f"row {row}, column name: missing.")
            continue
        if len(name) > 300:
            errors.append(f"row {row}, column name: longer than 300 characters.")
        try:
            validate_email(email)
        except ValidationError:
            errors.append(f"row {row}, column email: {email!r} is not a valid e-mail address.")
            continue
        key = email.lower()
        if key in seen:
            errors.append(f"row {row}, column email: {email} is a duplicate of row {seen[key]}.")
            continue
        seen[key] = row
        entries.append(RosterEntry(row=row, email=email, name=name))
    if errors:
        _fail(errors)
    return entries


@transaction.atomic
def roster_import(*, actor, course, entries: list[RosterEntry]) -> RosterResult:
    """Enroll the tenant's members and invite everyone else, for every entry or none.

    People who already have an account but are not members are invited (``person_add``): they
    are enrolled when they accept (their row waits as ``invited``). An unknown address gets a new
    inactive account, a student of the tenant and enrolled now, plus an invitation. Platform
    admins are never added. Idempotent per student, and safe against the same roster arriving
    twice at once (rows are taken in address order, so two imports lock in the same order).
    Raises ValidationError naming the row, and NotAllowed unless the actor may issue the course
    (its instructors, the tenant's managers).
    """
    tenant_permissions.require(actor, "course.issue", course)
    enrolled, invited = [], 0
    for entry in sorted(entries, key=lambda e: e.email.lower()):
        try:
            added = person_add(
                actor=actor,
                tenant=course.tenant,
                email=entry.email,
                name=entry.name,
                role=Role.STUDENT,
                keep_open_role=True,
            )
            if added.member is not None:
                enrolled.append(enrollment_add(actor=actor, course=course, student=added.member.user))
                continue
            invited += 1
            if added.new_account is not None:
                enrollment_add(actor=actor, course=course, student=added.new_account)
            for invitee in added.invitees:
                enrollment_invite(course=course, student=invitee)
        except ValidationError as exc:
            _fail([f"row {entry.row}, column email: {message}" for message in exc.messages])
    enrolled.sort(key=lambda e: e.student.username)
    return RosterResult(rows=len(entries), enrolled=len(enrolled), invited=invited, enrollments=enrolled)
