"""`/api/schedules`: create, list, read, change and delete schedules; next_run_at follows the
expression and its time zone; a bad expression or zone is a 400 naming it; only the owner
and staff see a schedule."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.models import Job
from jobs.services import creation
from schedules import services
from schedules.cron import next_tick
from schedules.models import Schedule

pytestmark = pytest.mark.django_db

NIGHTLY = {"name": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Berlin", "type": "sleep",
           "params": {"seconds": 1}}  # fmt: skip


def test_a_new_schedule_answers_its_next_run_in_its_time_zone(api, owner):
    api.force_authenticate(owner)
    response = api.post("/api/schedules", NIGHTLY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    next_run = parse_datetime(body["next_run_at"])
    local = next_run.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (2, 30)
    assert timezone.now() < next_run <= timezone.now() + timedelta(days=1, hours=1)
    assert body["last_run_at"] is None
    assert (body["owner"], body["type"], body["params"], body["enabled"]) == ("owner", "sleep", {"seconds": 1}, True)
    assert response["Location"].endswith(f"/api/schedules/{body['id']}")
    assert body["links"]["jobs"].endswith(f"/api/jobs?schedule={body['id']}")


def test_the_time_zone_defaults_to_utc(api, owner):
    api.force_authenticate(owner)
    body = api.post("/api/schedules", {**NIGHTLY, "timezone": None} | {"cron": "0 9 * * *"}, format="json")
    assert body.status_code == 400  # null is not a zone; leaving it out is UTC
    body = api.post("/api/schedules", {k: v for k, v in NIGHTLY.items() if k != "timezone"}, format="json").json()
    assert body["timezone"] == "UTC"
    assert parse_datetime(body["next_run_at"]).astimezone(UTC).hour == 2


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"cron": "61 * * * *"}, "cron", "bad minute"),
        ({"cron": "* * * *"}, "cron", "five fields"),
        ({"cron": "0 0 * * * *"}, "cron", "five fields"),
        ({"cron": "every day"}, "cron", "five fields"),
        ({"cron": "0 0 31 2 *"}, "cron", "bad day-of-month"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "not an IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "not an IANA time zone"),
        ({"type": "mine_bitcoin"}, "type", "unknown job type"),
        ({"params": {"seconds": -1}}, "params", "greater than or equal to 0"),
        ({"priority": "urgent"}, "priority", "not a valid choice"),
        ({"callback_url": "https://example.com/done"}, "callback_url", "no callback signing secret"),
        ({"callback_url": "ftp://example.com/done"}, "callback_url", "http"),
    ],
)
def test_a_bad_schedule_is_400_naming_what_is_wrong(api, owner, change, field, says):
    api.force_authenticate(owner)
    response = api.post("/api/schedules", {**NIGHTLY, **change}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"], body
    assert says.lower() in str(body["fields"][field]).lower(), body
    assert not Schedule.objects.exists()


def test_schedules_need_sign_in(api):
    assert api.get("/api/schedules").status_code == 401
    assert api.post("/api/schedules", NIGHTLY, format="json").status_code == 401


def test_owners_see_their_own_schedules_and_staff_see_all(api, owner, stranger, staff):
    mine = services.create_schedule(owner=owner, name="mine", cron="0 * * * *", type="sleep", params={"seconds": 1})
    theirs = services.create_schedule(owner=stranger, name="theirs", cron="0 * * * *", type="random_text")
    api.force_authenticate(owner)
    assert [s["name"] for s in api.get("/api/schedules").json()["results"]] == ["mine"]
    assert api.get(f"/api/schedules/{theirs.id}").status_code == 404
    assert api.patch(f"/api/schedules/{theirs.id}", {"enabled": False}, format="json").status_code == 404
    assert api.delete(f"/api/schedules/{theirs.id}").status_code == 404
    assert api.get("/api/schedules/not-an-id").status_code == 404
    api.force_authenticate(staff)
    assert {s["name"] for s in api.get("/api/schedules").json()["results"]} == {"mine", "theirs"}
    assert api.get(f"/api/schedules/{mine.id}").json()["owner"] == "owner"


def test_patch_computes_the_next_run_again(api, owner):
    api.force_authenticate(owner)
    schedule = api.post("/api/schedules", NIGHTLY, format="json").json()
    url = f"/api/schedules/{schedule['id']}"
    every_five = api.patch(url, {"cron": "*/5 * * * *", "timezone": "UTC"}, format="json").json()
    next_run = parse_datetime(every_five["next_run_at"])
    assert next_run.minute % 5 == 0 and timezone.now() < next_run <= timezone.now() + timedelta(minutes=5)
    assert (every_five["cron"], every_five["name"]) == ("*/5 * * * *", "nightly")
    disabled = api.patch(url, {"enabled": False}, format="json").json()
    assert (disabled["enabled"], disabled["next_run_at"]) == (False, None)
    enabled = api.patch(url, {"enabled": True}, format="json").json()
    assert parse_datetime(enabled["next_run_at"]) == next_run
    renamed = api.patch(url, {"name": "every five"}, format="json").json()
    assert (renamed["name"], renamed["next_run_at"]) == ("every five", enabled["next_run_at"])
    assert api.patch(url, {"cron": "banana"}, format="json").status_code == 400
    assert api.get(url).json()["cron"] == "*/5 * * * *"


def test_a_change_of_kind_names_its_params_and_params_their_kind(api, owner):
    api.force_authenticate(owner)
    url = api.post("/api/schedules", NIGHTLY, format="json").json()["links"]["self"]
    for change, missing in (({"type": "random_text"}, "params"), ({"params": {"seconds": 2}}, "type")):
        response = api.patch(url, change, format="json")
        assert response.status_code == 400
        assert missing in response.json()["fields"]
    changed = api.patch(url, {"type": "random_text", "params": {"length": 3}}, format="json").json()
    assert (changed["type"], changed["params"]) == ("random_text", {"length": 3})


def test_deleting_a_schedule_keeps_the_jobs_it_started(api, owner):
    schedule = services.create_schedule(owner=owner, name="n", cron="* * * * *", type="random_text")
    Schedule.objects.filter(id=schedule.id).update(next_run_at=timezone.now() - timedelta(minutes=1))
    (job,) = services.start_due_schedules()
    api.force_authenticate(owner)
    assert api.get(f"/api/jobs/{job.id}").json()["schedule"] == str(schedule.id)
    listed = api.get(f"/api/jobs?schedule={schedule.id}").json()["results"]
    assert [j["id"] for j in listed] == [str(job.id)]
    assert api.delete(f"/api/schedules/{schedule.id}").status_code == 204
    assert not Schedule.objects.exists()
    assert api.get(f"/api/jobs/{job.id}").json()["schedule"] is None


def test_the_schema_shows_the_new_fields_and_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in ("/api/schedules", "/api/schedules/{schedule_id}", "/api/jobs/cancel", "/api/jobs/retry"):
        assert path in paths, path
    job = schema["components"]["schemas"]["Job"]["properties"]
    assert {"run_at", "priority", "schedule"} <= set(job)
    for kind in ("RandomTextJobCreateRequest", "SleepJobCreateRequest"):
        assert {"run_at", "delay", "priority"} <= set(schema["components"]["schemas"][kind]["properties"])
    assert "400" in paths["/api/schedules"]["post"]["responses"]
    assert "scheduled" in str(schema["components"]["schemas"])


def test_a_job_resource_names_no_schedule_when_none_started_it(api):
    job = creation.create_job(kind="random_text", params={"length": 1})
    assert api.get(f"/api/jobs/{job.id}").json()["schedule"] is None
    assert Job.objects.get(id=job.id).schedule_id is None


def test_next_runs_follow_daylight_saving_time():
    # Europe/Berlin moves from +01:00 to +02:00 on 2030-03-31: 09:00 there is 08:00 UTC on
    # the 30th, 07:00 UTC on the 31st.
    before = datetime(2030, 3, 29, 12, tzinfo=UTC)
    first = next_tick(cron="0 9 * * *", tz="Europe/Berlin", after=before)
    second = next_tick(cron="0 9 * * *", tz="Europe/Berlin", after=first)
    assert (first.hour, second.hour) == (8, 7)
