"""Schedules in the admin: made and changed through the same services as the API (next run
computed, bad expressions and zones refused beside their inputs)."""

import pytest

from schedules.models import Schedule

pytestmark = pytest.mark.django_db


def _form(owner, **overrides) -> dict:
    data = {"name": "hourly", "cron": "0 * * * *", "timezone": "UTC", "type": "sleep", "params": '{"seconds": 1}',
            "owner": str(owner.pk), "enabled": "on"}  # fmt: skip
    return data | overrides


def test_a_schedule_added_in_the_admin_gets_its_next_run(admin_client, owner):
    response = admin_client.post("/admin/schedules/schedule/add/", _form(owner))
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get()
    assert (schedule.owner, schedule.next_run_at.minute, schedule.next_run_at.second) == (owner, 0, 0)
    changed = admin_client.post(f"/admin/schedules/schedule/{schedule.pk}/change/", _form(owner, cron="30 * * * *"))
    assert changed.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.cron, schedule.next_run_at.minute) == ("30 * * * *", 30)


def test_a_bad_expression_or_zone_is_refused_in_the_admin(admin_client, owner):
    response = admin_client.post("/admin/schedules/schedule/add/", _form(owner, cron="61 * * * *", timezone="Nowhere"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "bad minute" in page and "not an IANA time zone" in page
    assert not Schedule.objects.exists()
