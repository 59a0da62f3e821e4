"""Hide the passwords that URLs may carry before a URL is shown or logged.

A target such as `http://user:secret@host:8000` keeps its password for the
requests haven-top sends, while messages, snapshots and log instance names
show `http://user:***@host:8000`.
"""

from __future__ import annotations

import re

REDACTED = "***"
"""Text that replaces a URL's password."""

# The password runs from the first ':' of the userinfo to the last '@' of the
# authority, so a password with an unencoded '@' is hidden in full.
_PASSWORD_RE = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#@:]*):[^\s/?#]*@"
)


def redact_url(text: str) -> str:
    """Replace the password of every URL in `text` with `***`.

    `text` may be a URL or a message that contains URLs. A URL without a
    password is returned unchanged, and so is a URL already redacted.
    """
    if "@" not in text:
        return text
    return _PASSWORD_RE.sub(rf"\g<head>:{REDACTED}@", text)
