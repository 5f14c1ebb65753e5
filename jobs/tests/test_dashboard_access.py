"""Who may open the dashboard's pages and use its buttons."""

import pytest
from django.urls import reverse

from jobs.models import Job
from jobs.services import creation

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(owner):
    return creation.create_job(kind="sleep", params={"seconds": 5}, owner=owner)


@pytest.mark.parametrize("name", ["dashboard", "job-list", "job-detail"])
def test_pages_send_an_anonymous_visitor_to_sign_in(client, job, name):
    url = reverse(name, args=[job.id]) if name == "job-detail" else reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ["job-start", "job-cancel", "job-retry"])
def test_buttons_change_nothing_for_an_anonymous_visitor(client, job, name):
    url = reverse(name) if name == "job-start" else reverse(name, args=[job.id])
    response = client.post(url, {"kind": "sleep", "seconds": "1"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    job.refresh_from_db()
    assert (Job.objects.count(), job.status) == (1, "pending")


def test_signing_in_with_the_form_opens_the_overview(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "owner-password-1"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert b"<h1>Overview</h1>" in response.content


def test_a_wrong_password_is_refused_with_a_message(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_signing_out_ends_the_session(client, owner):
    client.force_login(owner)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_every_page_links_the_api_its_docs_and_for_staff_the_admin(client, owner, staff):
    client.force_login(owner)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'href="/api/"' in page and 'href="/api/docs/"' in page
    assert 'href="/admin/"' not in page
    client.force_login(staff)
    assert 'href="/admin/"' in client.get(reverse("dashboard")).content.decode()


def test_the_admin_carries_bespins_title(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    assert "Bespin administration" in client.get("/admin/").content.decode()


def test_a_missing_page_and_a_refusal_are_shown_in_the_dashboards_own_pages(client, owner, stranger, job):
    client.force_login(stranger)
    refused = client.post(reverse("job-cancel", args=[job.id]))
    assert refused.status_code == 403
    assert "only the job&#x27;s owner or staff may change it" in refused.content.decode()
    missing = client.get("/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.content.decode()
