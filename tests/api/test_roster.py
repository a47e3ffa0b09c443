"""Course rosters: CSV (text/csv or multipart) and JSON, all rows or none, errors naming row and column."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labs.models import Enrollment
from labs.roster import MAX_ROWS
from tenants.models import Invitation, Membership

pytestmark = pytest.mark.django_db
User = get_user_model()


def _post_csv(client, course, text, *, encoding="utf-8"):
    data = text.encode(encoding) if isinstance(text, str) else text
    return client.generic("POST", f"/api/v1/courses/{course.pk}/enrollments/", data, content_type="text/csv")


def test_it_invites_new_people_and_enrolls_everyone(world, api):
    csv_text = "email,name\nada@example.test,Ada Lovelace\nacme-student2@example.test,Already Member\n"
    response = _post_csv(api("instructor"), world.course, csv_text)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["rows"], body["enrolled"], body["invited"]) == (2, 1, 1)  # acme-student2 is already a member

    ada = User.objects.get(email="ada@example.test")
    assert not ada.is_active and not ada.has_usable_password()
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
    assert Invitation.objects.filter(user=ada, tenant=world.acme, accepted_at=None).count() == 1
    assert Membership.objects.get(user=ada, tenant=world.acme).role == "student"
    student2 = world.users["student2"]
    assert Membership.objects.get(user=student2, tenant=world.acme).role == "student"  # unchanged
    assert set(Enrollment.objects.filter(course=world.course).values_list("student__email", flat=True)) >= {
        "ada@example.test",
        "acme-student2@example.test",
    }


def test_multipart_upload_works_the_same(world, api):
    upload = SimpleUploadedFile("roster.csv", b"Email,Name\nbob@example.test,Bob\n", content_type="text/csv")
    response = api("admin").post(
        f"/api/v1/courses/{world.course.pk}/enrollments/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert Enrollment.objects.filter(course=world.course, student__email="bob@example.test").exists()


def test_json_list_works_the_same(world, api):
    response = api("admin").post(
        f"/api/v1/courses/{world.course.pk}/enrollments/", [{"email": "cy@example.test", "name": "Cy"}], format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["invited"] == 1
    assert Enrollment.objects.get(course=world.course, student__email="cy@example.test").status == "enrolled"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ("mail,name\nx@example.test,X\n", "row 1, column email: missing from the header"),
        ("email\nx@example.test\n", "row 1, column name: missing from the header"),
        ("email,name\nx@example.test,X\nnot-an-email,Y\n", "row 3, column email: 'not-an-email' is not a valid"),
        (
            "email,name\nx@example.test,X\nX@Example.test,Again\n",
            "row 3, column email: X@Example.test is a duplicate of row 2",
        ),
        ("email,name\nx@example.test\n", "row 2, column name: missing"),
        ("", "row 1: the file is empty"),
        ("email,name\n", "The roster has no students"),
    ],
)
def test_bad_csv_is_refused_naming_row_and_column_and_nothing_changes(world, api, payload, needle):
    users_before, enrollments_before = User.objects.count(), Enrollment.objects.count()
    response = _post_csv(api("instructor"), world.course, payload)
    assert response.status_code == 400, response.content
    assert any(needle in message for message in response.json()["roster"]), response.json()
    assert (User.objects.count(), Enrollment.objects.count()) == (users_before, enrollments_before)


def test_wrong_encoding_is_refused(world, api):
    response = _post_csv(api("instructor"), world.course, "email,name\nzoe@example.test,Zoë\n", encoding="latin-1")
    assert response.status_code == 400
    assert "row 2, column name: the file is not UTF-8" in response.json()["roster"][0]


def test_too_many_rows_is_refused(world, api):
    rows = "".join(f"s{i}@example.test,S {i}\n" for i in range(MAX_ROWS + 1))
    response = _post_csv(api("admin"), world.course, "email,name\n" + rows)
    assert response.status_code == 400
    assert f"row {MAX_ROWS + 2}: too many rows" in response.json()["roster"][0]
    assert not User.objects.filter(email="s0@example.test").exists()


def test_a_failing_row_rolls_back_the_rows_before_it(world, api, monkeypatch):
    # A fault at the last row (in address order): the first row's account and invite must vanish too.
    from django.core.exceptions import ValidationError

    from labs import roster
    from tenants.models import Invitation

    real = roster.enrollment_add

    def enrollment_add(*, course, student, **kwargs):
        if student.email == "zed@example.test":
            raise ValidationError("injected fault")
        return real(course=course, student=student, **kwargs)

    monkeypatch.setattr(roster, "enrollment_add", enrollment_add)
    response = _post_csv(api("admin"), world.course, "email,name\nfresh@example.test,F\nzed@example.test,Z\n")
    assert response.status_code == 400
    assert response.json()["roster"] == ["row 3, column email: injected fault"]
    assert not User.objects.filter(email__in=["fresh@example.test", "zed@example.test"]).exists()
    assert not Invitation.objects.filter(email="fresh@example.test").exists()


def test_roster_list_filters_by_status(world, api):
    url = f"/api/v1/courses/{world.course.pk}/enrollments/"
    assert api("instructor").get(url + "?status=enrolled").json()["count"] == 1
    assert api("instructor").get(url + "?status=withdrawn").json()["count"] == 0
    assert api("instructor").get(url + "?status=bogus").status_code == 400
