"""What a request says of who sends it (werk.core.access.Caller), read from the ASGI scope the way every check reads
it: the fast path, the front door and the routes see the same caller."""

from __future__ import annotations

from werk.core.access import SESSION_COOKIE, Caller


def test_the_first_credential_header_counts_and_every_cookie_header_is_read() -> None:
    scope = {
        "type": "http",
        "method": "PATCH",
        "path": "/api/v3.0/x",
        "client": ("10.0.0.7", 50123),
        "headers": [
            (b"authorization", b"Bearer first"),
            (b"cookie", b"theme=dark"),
            (b"x-csrf-token", b"c1"),
            (b"authorization", b"Bearer second"),
            (b"cookie", f"{SESSION_COOKIE}=s3".encode()),
            (b"x-csrf-token", b"c2"),
        ],
    }
    caller = Caller.of(scope)
    assert caller.authorization == "Bearer first"
    assert caller.csrf == "c1"
    assert caller.session == "s3"
    assert (caller.client, caller.method, caller.path) == ("10.0.0.7", "PATCH", "/api/v3.0/x")
    assert caller.scope is scope and caller.has_credential


def test_a_request_without_headers_or_client_carries_no_credential() -> None:
    caller = Caller.of({"type": "http", "method": "GET", "path": "/"})
    assert caller == Caller(method="GET", path="/")
    assert not caller.has_credential
