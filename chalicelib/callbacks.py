"""What a webhook target may be: the form of a `callback_url`, and which addresses it may reach.

Pure rules (no network), shared by upload validation (uploads.py, when the URL
is given) and the webhook sender (notify.py, again when it is sent to, after
resolving the name: no DNS answer may point it inside).
"""

import ipaddress
import re

from chalicelib.errors import InvalidRequestError

MAX_URL_LENGTH = 2048
# What a callback URL may look like, exactly (docs/openapi.yaml has the same pattern, with
# https? for the local stage): a host name or IPv4 address, an optional port 1-65535, then a
# path and query of printable ASCII, no user name, password or #fragment.
_HOST = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
CALLBACK_URL_PATTERN = rf"^https?://{_HOST}(:{_PORT})?([/?][\x21\x22\x24-\x7e]*)?$"


def check_callback_url(url: object, allow_local: bool) -> str:
    """The `callback_url` of POST /uploads, or InvalidRequestError saying why not.

    Only the form is checked here; the address is checked again at send time,
    when it is resolved. `allow_local` (UNSAFE_LOCAL_WEBHOOKS, the `local` stage
    only) allows plain http and loopback receivers.
    """
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_LENGTH:
        raise InvalidRequestError(f"callback_url must be a URL of at most {MAX_URL_LENGTH} characters")
    if not (url.startswith("https://") or (allow_local and url.startswith("http://"))):
        schemes = "an http:// or https://" if allow_local else "an https://"
        raise InvalidRequestError(f"callback_url must be {schemes} URL")
    if not re.fullmatch(CALLBACK_URL_PATTERN, url):
        raise InvalidRequestError(
            "callback_url needs a host name (letters, digits, dots and dashes) and at most a port,"
            " a path and a query: no user name, password, spaces or #fragment"
        )
    return url


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def reachable_address(address: str, allow_local: bool) -> bool:
    """Whether a webhook may connect to this resolved address: a public one, or, with
    `allow_local`, loopback."""
    return _public(address) or (allow_local and ipaddress.ip_address(address.split("%")[0]).is_loopback)
