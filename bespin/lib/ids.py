import uuid


def parse_uuid(raw) -> uuid.UUID | None:
    """The UUID in `raw` (a job's or a receipt's id), or None when it is not one."""
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError, AttributeError):
        return None
