"""The dashboard's layout in a real browser (Chromium, against Daphne and a worker as
processes): the overview's cards fill their rows, a progress bar appearing moves nothing in
the jobs table, inputs are wide enough for their placeholders and stay inside their cards,
and the header's sign-out looks like the links beside it."""

import pytest
from playwright.sync_api import expect

from bespin.testing.browser import DESKTOP, PHONE, job_row, wait_for_status
from jobs.models import JobStatus
from jobs.services import creation, lifecycle

pytestmark = pytest.mark.django_db(transaction=True)


def _rows_of(boxes: list[dict]) -> list[int]:
    """How many of these boxes share each line, top to bottom."""
    tops: dict[float, int] = {}
    for box in boxes:
        top = round(box["y"])
        tops[top] = tops.get(top, 0) + 1
    return [tops[top] for top in sorted(tops)]


@pytest.mark.parametrize(("viewport", "per_row"), [(DESKTOP, 4), (PHONE, 2)], ids=["desktop", "phone"])
def test_the_overviews_cards_form_full_rows(open_page, owner, viewport, per_row):
    page = open_page(owner, "owner-password-1", viewport=viewport)
    cards = page.locator(".stats > li")
    expect(cards).to_have_count(8)  # six statuses, the queue, the workers
    rows = _rows_of([cards.nth(i).bounding_box() for i in range(8)])
    assert rows == [per_row] * (8 // per_row), f"cards per row at {viewport['width']} px: {rows}"


def _geometry(row) -> dict:
    """Where a job's row and what the eye follows in it are, to the tenth of a pixel."""
    parts = {
        "row": row,
        "checkbox": row.locator('input[type="checkbox"]'),
        "id": row.locator("td.job-cell a"),
        "id cell": row.locator("td.job-cell"),
        "created": row.locator("td.created"),
    }
    boxes = {name: part.bounding_box() for name, part in parts.items()}  # None: hidden (on a phone)
    return {name: box and {k: round(v, 1) for k, v in box.items()} for name, box in boxes.items()}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_progress_bar_appearing_in_a_row_changes_no_layout(open_page, owner, viewport):
    # Finished jobs around it, then a long sleep job that keeps the only worker busy, so that
    # the next random_text job waits in the queue until this test starts it by hand.
    for length in (3, 4):
        wait_for_status(creation.create_job(kind="random_text", params={"length": length}, owner=owner), "completed")
    busy = creation.create_job(kind="sleep", params={"seconds": 30}, owner=owner)
    wait_for_status(busy, JobStatus.RUNNING)
    waiting = creation.create_job(kind="random_text", params={"length": 5}, owner=owner)
    page = open_page(owner, "owner-password-1", viewport=viewport)
    try:
        # Only random_text jobs: no progress bar shows anywhere in the table yet.
        page.goto("/jobs/?type=random_text")
        expect(page.locator("[data-live-indicator]")).to_have_text("Live")
        row = job_row(page, waiting)
        expect(row.locator("[data-status]")).to_have_text("Pending")
        expect(page.locator("table.jobs progress:visible")).to_have_count(0)
        before = _geometry(row)

        running = lifecycle.start_job(job_id=waiting.id, worker_name="worker-layout")
        assert lifecycle.set_progress(job=running, percent=100)
        expect(row.locator("[data-progress-text]")).to_have_text("100%")
        expect(row.locator("progress")).to_be_visible()
        assert _geometry(row) == before
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], "the page scrolls sideways"
        wrap = page.locator(".table-wrap").first
        assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth"), "the table scrolls sideways"
    finally:
        lifecycle.cancel_job(job=busy)
        lifecycle.cancel_job(job=waiting)


# The width of an input's placeholder in the input's own font.
_PLACEHOLDER_ROOM = """input => {
    const style = getComputedStyle(input);
    const context = document.createElement("canvas").getContext("2d");
    context.font = style.font;
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return {text: context.measureText(input.placeholder).width, room};
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_placeholder_of_a_start_form_fits_its_input(open_page, owner, viewport):
    page = open_page(owner, "owner-password-1", viewport=viewport)
    page.goto("/tasks/sleep/")
    inputs = page.locator(".kind-form input[placeholder]")
    expect(inputs.first).to_be_visible()
    assert inputs.count() >= 1 and page.locator('.kind-form input[type="url"][placeholder]').count() == 1
    for i in range(inputs.count()):
        sizes = inputs.nth(i).evaluate(_PLACEHOLDER_ROOM)
        name = inputs.nth(i).get_attribute("name")
        assert sizes["text"] <= sizes["room"], f"the placeholder of {name} is cut off: {sizes}"


_OUTSIDE_THEIR_CARD = """() => [...document.querySelectorAll(".card input, .card select, .card textarea")]
    .filter(control => control.type !== "hidden")
    .filter(control => {
        const card = control.closest(".card").getBoundingClientRect();
        const box = control.getBoundingClientRect();
        return box.left < card.left || box.right > card.right;
    })
    .map(control => control.name)"""


@pytest.mark.parametrize("path", ["/schedules/", "/tasks/examples.reports.tasks.send_report/", "/jobs/"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_form_controls_stay_inside_their_cards(open_page, owner, viewport, path):
    page = open_page(owner, "owner-password-1", viewport=viewport)
    page.goto(path)
    expect(page.locator(".card").first).to_be_visible()
    assert page.evaluate(_OUTSIDE_THEIR_CARD) == []


_LOOKS = [
    "color", "font-family", "font-size", "font-weight", "line-height", "text-decoration-line",
    "border-bottom-width", "border-bottom-style", "padding-top", "padding-bottom", "background-color",
]  # fmt: skip


def test_the_headers_sign_out_looks_like_the_links_beside_it(owner_page, owner):
    page = owner_page
    page.goto("/jobs/")  # the Overview link is then a plain one, not the current page's
    nav = page.get_by_role("navigation", name="Main")
    link = nav.get_by_role("link", name="Overview")
    sign_out = nav.get_by_role("button", name=f"Sign out {owner.username}")
    style = "(el, names) => Object.fromEntries(names.map(n => [n, getComputedStyle(el).getPropertyValue(n)]))"
    looks = {name: (link.evaluate(style, _LOOKS)[name], sign_out.evaluate(style, _LOOKS)[name]) for name in _LOOKS}
    assert all(a == b for a, b in looks.values()), {name: pair for name, pair in looks.items() if pair[0] != pair[1]}
    # And it sits on their line: the same top and height.
    link_box, button_box = link.bounding_box(), sign_out.bounding_box()
    assert (round(link_box["y"]), round(link_box["height"])) == (round(button_box["y"]), round(button_box["height"]))
