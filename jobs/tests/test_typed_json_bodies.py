"""A JSON body's values have the types the OpenAPI schema gives them: a string where a number
belongs, a number where a string or a boolean does, is a 400 naming the field (DRF alone
would read `"5"` as 5 and `0` as false). Found by the contract test (bespin/tests)."""

import pytest

from jobs.models import Job
from schedules.models import Schedule

pytestmark = pytest.mark.django_db

_SCHEDULE = {"name": "nightly", "cron": "0 3 * * *", "type": "sleep", "params": {"seconds": 1}}
_AN_ID = "1f0c0000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/jobs", {"type": "sleep", "params": {"seconds": "1"}}, ["params", "seconds"]),
        ("/api/jobs", {"type": "random_text", "params": {"length": 5.0}}, ["params", "length"]),
        ("/api/jobs", {"type": "random_text", "callback_url": 5}, ["callback_url"]),
        ("/api/jobs", {"type": "random_text", "delay": "10"}, ["delay"]),
        ("/api/jobs/batch", {"jobs": [{"type": "sleep", "params": {"seconds": True}}]}, ["jobs", "0", "params"]),
        ("/api/jobs/batch", {"jobs": [{"type": {}}]}, ["jobs", "0", "type"]),
        ("/api/jobs/batch", {"jobs": [{"type": "random_text", "callback_url": None}]}, ["jobs", "0", "callback_url"]),
        ("/api/jobs/random-text", {"length": "5"}, ["length"]),
        ("/api/schedules", {**_SCHEDULE, "enabled": 0}, ["enabled"]),
        ("/api/schedules", {**_SCHEDULE, "name": 5}, ["name"]),
        ("/api/jobs/cancel", {"ids": [False]}, ["ids", "0"]),
    ],
)
def test_a_value_of_the_wrong_json_type_is_400_naming_it(api, owner, path, body, field):
    api.force_authenticate(owner)
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.json()
    named = response.json()["fields"]
    for key in field:
        named = named[key]
    assert named
    assert not Job.objects.exists() and not Schedule.objects.exists()


def test_a_bad_body_value_is_400_even_where_the_query_string_gives_its_own(api):
    response = api.post("/api/jobs/random-text?length=5&callback_url=", {"length": 0}, format="json")
    assert response.status_code == 400
    assert "length" in response.json()["fields"]
    assert api.post("/api/jobs/random-text?length=5", {"callback_url": "ftp://x"}, format="json").status_code == 400
    assert api.post("/api/jobs/random-text?length=5", {"length": 7}, format="json").json()["params"] == {"length": 5}


def test_a_bulk_change_names_jobs_by_string_ids(api, owner):
    api.force_authenticate(owner)
    assert api.post("/api/jobs/cancel", {"ids": [_AN_ID]}, format="json").json() == {"changed": 0, "skipped": 1}
