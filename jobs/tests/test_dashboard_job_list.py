"""The jobs page's list: whose jobs, filters, search on id, bad filters, pages."""

import pytest
from django.urls import reverse

from bespin.testing import tasks
from jobs.dashboard import views

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:
    return [str(job.id) for job in response.context["jobs"]]


def test_a_user_lists_only_their_own_jobs(client, owner, stranger, make_job):
    mine = make_job(owner=owner)
    theirs = make_job(owner=stranger)
    client.force_login(owner)
    response = client.get(reverse("job-list"))
    assert _ids(response) == [str(mine.id)]
    assert str(theirs.id) not in response.content.decode()


def test_staff_list_every_job(client, owner, stranger, staff, make_job):
    jobs = [make_job(owner=owner), make_job(owner=stranger), make_job()]
    client.force_login(staff)
    assert _ids(client.get(reverse("job-list"))) == [str(job.id) for job in reversed(jobs)]


def test_filters_by_status_and_type(client, owner, make_job):
    done = make_job(owner=owner, state="completed")
    make_job(owner=owner, state="failed")
    sleeping = make_job(kind="sleep", params={"seconds": 1}, owner=owner)
    client.force_login(owner)
    assert _ids(client.get(reverse("job-list"), {"status": "completed"})) == [str(done.id)]
    assert _ids(client.get(reverse("job-list"), {"type": "sleep"})) == [str(sleeping.id)]
    assert _ids(client.get(reverse("job-list"), {"type": "sleep", "status": "completed"})) == []


def test_search_finds_a_job_by_the_start_of_its_id(client, owner, make_job):
    jobs = [make_job(owner=owner) for _ in range(3)]
    client.force_login(owner)
    target = str(jobs[1].id)
    # The start of an id, with or without its dashes, in either case: a range of the primary key.
    for part in (target, target[:13], target[:8].upper(), target.replace("-", "")[:10]):
        assert _ids(client.get(reverse("job-list"), {"q": part})) == [target]
    assert _ids(client.get(reverse("job-list"), {"q": target[9:18]})) == []


def test_a_filter_that_matches_nothing_says_so(client, owner, make_job):
    make_job(owner=owner)
    client.force_login(owner)
    response = client.get(reverse("job-list"), {"status": "running"})
    assert response.status_code == 200
    assert "No jobs match these filters" in response.content.decode()


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"status": "done"}, "status", "Select a valid choice"),
        ({"type": "nope"}, "type", "Select a valid choice"),
        ({"q": "<script>"}, "q", "only the digits 0-9"),
        ({"q": "a" * 37}, "q", "at most 36 characters"),
    ],
)
def test_a_bad_filter_is_400_with_the_reason_beside_it(client, owner, make_job, query, field, message):
    make_job(owner=owner)
    client.force_login(owner)
    response = client.get(reverse("job-list"), query)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="id_{field}-error"' in page and message in page
    assert f'aria-describedby="id_{field}-error"' in page
    assert response.context["jobs"] == []


def test_the_list_is_paged_by_cursor_and_pages_keep_the_filters(client, owner, make_job):
    for _ in range(views.PAGE_SIZE + 2):
        make_job(owner=owner)
    client.force_login(owner)
    first = client.get(reverse("job-list"), {"type": "random_text"})
    assert len(first.context["jobs"]) == views.PAGE_SIZE
    assert f"{views.PAGE_SIZE + 2} jobs match" in first.content.decode()
    older = first.context["page"].older
    assert older.startswith(reverse("job-list") + "?") and "type=random_text" in older
    second = client.get(older)
    assert len(second.context["jobs"]) == 2
    assert not set(_ids(first)) & set(_ids(second))
    assert _ids(client.get(second.context["page"].newer)) == _ids(first)


@pytest.mark.parametrize("cursor", ["abc", "cD05OTk5", "-1"])
def test_a_bad_cursor_goes_back_to_the_first_page_keeping_the_filters(client, owner, make_job, cursor):
    make_job(owner=owner)
    client.force_login(owner)
    response = client.get(reverse("job-list"), {"cursor": cursor, "type": "random_text"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("job-list") + "?type=random_text"
    assert len(response.context["jobs"]) == 1


def test_running_rows_show_a_progress_bar_and_others_do_not(client, owner, make_job):
    running = make_job(owner=owner, state="running")
    pending = make_job(owner=owner)
    client.force_login(owner)
    page = client.get(reverse("job-list")).content.decode()
    row = page[page.index(f'data-job-id="{running.id}"') :]
    assert '<span class="progress" data-progress>' in row[: row.index("</tr>")]
    row = page[page.index(f'data-job-id="{pending.id}"') :]
    assert '<span class="progress" data-progress hidden>' in row[: row.index("</tr>")]


def test_an_empty_first_page_takes_in_new_jobs_live_and_later_pages_do_not(client, owner, make_job):
    client.force_login(owner)
    assert 'data-first-page="true"' in client.get(reverse("job-list")).content.decode()
    for _ in range(views.PAGE_SIZE + 1):
        make_job(owner=owner)
    older = client.get(reverse("job-list")).context["page"].older
    assert 'data-first-page="false"' in client.get(older).content.decode()


def test_a_task_registered_later_can_be_filtered_on(client, owner, make_job, register_task):
    register_task(tasks.echo, "echo")
    echo = make_job(kind="echo", params={"word": "hello"}, owner=owner)
    make_job(owner=owner)
    client.force_login(owner)
    assert _ids(client.get(reverse("job-list"), {"type": "echo"})) == [str(echo.id)]
