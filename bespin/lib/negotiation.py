"""DRF's content negotiation, with the common case answered at once."""

from rest_framework.negotiation import DefaultContentNegotiation


class Negotiation(DefaultContentNegotiation):
    """A request that names no format and accepts anything (no Accept header, or `*/*`, as
    most API clients send) gets the first renderer with its own media type, as DRF's
    negotiation gives it, without parsing and ranking media types on every request."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accepts_anything = request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
        if accepts_anything and not format_suffix and self.settings.URL_FORMAT_OVERRIDE not in request.query_params:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
