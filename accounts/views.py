"""The API access page: a signed-in user's API token here, and what other apps add
(accounts.extensions: the callback secret). Every change is a POST whose answer is the page
itself, showing a new key or secret this once; the page never shows one again."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts import extensions, selectors, services
from accounts.extensions import AccessSection, Change, Refused
from accounts.limits import credential_changes_throttled

# Stands for the key in the curl line when the key is not shown.
KEY_PLACEHOLDER = "<your token>"


def curl_line(request, key: str) -> str:
    """A command that lists the user's jobs with `key`, at the address this page was asked on."""
    url = request.build_absolute_uri(reverse("api-jobs"))
    return f'curl -s {url} -H "Authorization: Token {key}"'


def _token_state(request) -> dict:
    token = selectors.token_of(request.user)
    return {
        "token": token,
        "prefix": selectors.key_prefix(token) if token else "",
        "curl": curl_line(request, KEY_PLACEHOLDER),
    }


def _shown_token(request, token, message: str) -> Change:
    return Change(message, shown={"key": token.key, "curl": curl_line(request, token.key)})


def _create_token(request) -> Change:
    try:
        token = services.create_token(user=request.user)
    except services.TokenExists as error:
        raise Refused(f"Nothing changed: {error}.") from None
    return _shown_token(request, token, "API token created.")


def _rotate_token(request) -> Change:
    token = services.rotate_token(user=request.user)
    return _shown_token(request, token, "API token rotated: the previous key no longer works.")


def _revoke_token(request) -> Change:
    if services.revoke_token(user=request.user):
        return Change("API token revoked: its key no longer works.")
    raise Refused("Nothing changed: you have no API token.")


TOKEN_SECTION = AccessSection(
    name="token",
    template="accounts/_token.html",
    state=_token_state,
    actions={"create": _create_token, "rotate": _rotate_token, "revoke": _revoke_token},
)


def _sections() -> list[AccessSection]:
    return [TOKEN_SECTION, *extensions.access_sections]


def _render(request, *, changed: str = "", shown: dict | None = None):
    sections = [
        {"name": section.name, "template": section.template, **section.state(request),
         "shown": shown if section.name == changed else {}}
        for section in _sections()
    ]  # fmt: skip
    return render(request, "accounts/api_access.html", {"sections": sections})


# Never kept by a browser or a proxy: an answer may hold a key, and the page a key's prefix.
@never_cache
@login_required
@require_safe
def api_access(request):
    return _render(request)


@never_cache
@login_required
@require_POST
@credential_changes_throttled
def change_access(request, section):
    found = next((s for s in _sections() if s.name == section), None)
    if found is None:
        raise Http404(f"no section {section!r} on the API access page")
    action = found.actions.get(request.POST.get("action", ""))
    if action is None:
        raise BadRequest(f"{section} has no such action")
    try:
        change = action(request)
    except Refused as refused:
        messages.error(request, str(refused))
        return redirect("api-access")
    messages.success(request, change.message)
    if not change.shown:
        return redirect("api-access")
    # The answer itself shows the secret: nothing stores it to show on a later request.
    return _render(request, changed=found.name, shown=change.shown)
