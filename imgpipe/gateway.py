"""The local stack's HTTP gateway in front of the Chalice app: QuietHandler, which answers the local
issuer's token route, refuses tokens it did not sign, and gives gateway errors the API's error shape."""

import json
from typing import TYPE_CHECKING

from chalice.local import ChaliceRequestHandler, LocalGatewayException

from chalicelib.web import error_body
from imgpipe.localauth import TOKEN_PATH, TOKEN_SECONDS, DevIssuer

if TYPE_CHECKING:
    from collections.abc import Callable

# What the local gateway itself answers (before the app runs), in the API's error shape.
GATEWAY_ERRORS = {
    401: ("unauthorized", "Sign in: the token is not one this stack issued, or it has expired."),
    403: ("forbidden", "You may not do this."),
    404: ("not_found", "There is no such route."),
    500: ("internal_error", "An internal error occurred."),
}


class QuietHandler(ChaliceRequestHandler):
    """Logs only failed requests: the page polls, and each poll would print a line.

    Errors chalice's gateway raises itself (no such route: 403 "Missing
    Authentication Token") get the API's error shape; an unknown route is a 404.
    TCP_NODELAY: http.server sends the headers and the body in two writes, and
    Nagle's algorithm held a small body back until the client's delayed ACK (~40 ms).
    """

    disable_nagle_algorithm = True

    def __getattr__(self, name: str) -> "Callable[[], None]":
        """Any other method (TRACE, QUERY…) goes to the app too, which answers 405 with
        Allow, instead of http.server's 501 in HTML."""
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _signed_in_handle(self) -> None:
        """The issuer's token route, and API Gateway's Cognito authorizer: a token the local
        issuer did not sign (or that expired) is refused before the app runs. A request with
        no token at all goes through without claims: the local stage stays open to its operator."""
        issuer = getattr(self.server, "dev_issuer", None)
        if issuer is not None and self.command == "POST" and self.path.split("?")[0] == TOKEN_PATH:
            self._issue_token(issuer)
            return
        token = self.headers.get("Authorization")
        if issuer is not None and token is not None and issuer.verify(token) is None:
            self._send_gateway_error(401)
            return
        self._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _signed_in_handle

    def _issue_token(self, issuer: DevIssuer) -> None:
        """POST /local-auth/token {"name": "alice", "admin": false} → {"id_token", "expires_in"}."""
        try:
            body = json.loads(self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 4096)) or b"{}")
            token = issuer.issue(str(body.get("name", "")), admin=body.get("admin") is True)
        except (ValueError, AttributeError) as exc:
            message = str(exc) if "name" in str(exc) else "Send a JSON body like {\"name\": \"alice\"}."
            self._send_http_response(400, {"Content-Type": "application/json"},
                                     json.dumps(error_body("bad_request", message)))
            return
        self._send_http_response(200, {"Content-Type": "application/json", "Cache-Control": "no-store"},
                                 json.dumps({"id_token": token, "expires_in": TOKEN_SECONDS}))

    def _send_gateway_error(self, status: int) -> None:
        code, message = GATEWAY_ERRORS.get(status, GATEWAY_ERRORS[500])
        self._send_http_response(status, {"Content-Type": "application/json",
                                          "X-Content-Type-Options": "nosniff"}, json.dumps(error_body(code, message)))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        try:
            self.local_gateway.event_converter._route_matcher.match_route(self.path)
            status = error.CODE
        except ValueError:
            status = 404
        self._send_gateway_error(status)
