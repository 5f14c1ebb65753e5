"""Answers more than one view of the job API gives."""

from rest_framework import status
from rest_framework.response import Response

UNFINISHED_RETRY_AFTER = 5


def too_many(error: Exception) -> Response:
    """429 for a caller at its cap of unfinished jobs, with a hint of when to try again."""
    # A hint, not a promise: a slot frees when one of the caller's jobs finishes.
    headers = {"Retry-After": str(UNFINISHED_RETRY_AFTER)}
    return Response({"error": str(error)}, status=status.HTTP_429_TOO_MANY_REQUESTS, headers=headers)
