import pytest

pytestmark = pytest.mark.django_db


def test_it_lists_only_visible_labs(world, api):
    response = api("student").get("/api/v1/labs/")
    assert response.status_code == 200, response.content
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [str(world.lab.pk)]
