"""Meta's shared pieces: X-Hub-Signature-256, the verification handshake, Graph API errors and sends."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.channels.meta import GraphClient, graph_error, sign, signature_valid, verification_response
from bot.errors import ChannelError, OutsideWindow, RateLimited

from .helpers import serving
from .standins.whatsapp_cloud import CloudApiStandIn

SECRET = "app-secret-1234"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def documented_signature(body: bytes, secret: str = SECRET) -> str:
    """Meta's documented algorithm, written out here independently of the code under test."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    assert sign(SECRET, BODY) == documented_signature(BODY)
    assert signature_valid(SECRET, BODY, documented_signature(BODY))
    assert signature_valid(SECRET, BODY, f"  {documented_signature(BODY)} ")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        documented_signature(BODY, "other-secret"),
        documented_signature(BODY + b" "),  # the body changed after signing
        documented_signature(BODY).upper(),
        "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
        "sha256=ünïcode",
    ],
)
def test_anything_but_the_exact_signature_is_refused(header: str | None) -> None:
    assert not signature_valid(SECRET, BODY, header)


def test_no_secret_configured_refuses_everything() -> None:
    assert not signature_valid("", BODY, sign("", BODY))


def test_the_handshake_echoes_the_challenge_only_for_the_right_token() -> None:
    ok = verification_response(
        {"hub.mode": "subscribe", "hub.verify_token": "tok-123", "hub.challenge": "987654"}, "tok-123"
    )
    assert (ok.status_code, ok.body) == (200, b"987654")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "987654"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "tok-123", "hub.challenge": "987654"},
        {"hub.mode": "subscribe", "hub.verify_token": "tok-123"},
        {},
    ):
        refused = verification_response(params, "tok-123")
        assert refused.status_code == 403 and b"987654" not in refused.body
    assert verification_response({"hub.mode": "subscribe", "hub.challenge": "1"}, "").status_code == 403


def graph(status: int, code: int | None = None, subcode: int | None = None, **headers: str) -> httpx.Response:
    error: dict[str, object] = {"message": "boom", "type": "OAuthException", "fbtrace_id": "Axyz"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return httpx.Response(status, json={"error": error}, headers=headers)


@pytest.mark.parametrize(
    ("response", "kind", "retryable", "retry_after"),
    [
        (graph(400, 4), RateLimited, True, 60.0),
        (graph(400, 80007), RateLimited, True, 60.0),
        (graph(400, 130429), RateLimited, True, 1.0),
        (graph(400, 131056), RateLimited, True, 6.0),
        (graph(429, 130429, **{"Retry-After": "12"}), RateLimited, True, 12.0),
        (graph(400, 131047), OutsideWindow, False, None),
        (graph(400, 10, 2018278), OutsideWindow, False, None),
        (graph(400, 10, 2534022), OutsideWindow, False, None),
        (graph(401, 190), ChannelError, False, None),
        (graph(403, 200), ChannelError, False, None),
        (graph(500, 1), ChannelError, True, None),
        (graph(503), ChannelError, True, None),
        (graph(400, 131000), ChannelError, True, None),
        (graph(400, 100), ChannelError, False, None),
        (httpx.Response(502, text="<html>Bad gateway</html>"), ChannelError, True, None),
    ],
)
def test_graph_errors_translate_into_our_hierarchy(
    response: httpx.Response, kind: type[ChannelError], retryable: bool, retry_after: float | None
) -> None:
    error = graph_error(response)
    assert type(error) is kind
    assert error.retryable is retryable
    if isinstance(error, RateLimited):
        assert error.retry_after == retry_after


@pytest.fixture
async def standin() -> AsyncIterator[tuple[CloudApiStandIn, str]]:
    meta = CloudApiStandIn("token-abc", "1234567890")
    async with serving(meta.app) as url:
        yield meta, url


async def test_the_graph_client_posts_json_with_a_bearer_token(standin: tuple[CloudApiStandIn, str]) -> None:
    meta, url = standin
    async with httpx.AsyncClient() as http:
        client = GraphClient(http, "token-abc", base_url=url)
        body = {"messaging_product": "whatsapp", "to": "48600000000", "type": "text", "text": {"body": "hi"}}
        answer = await client.post("1234567890/messages", body)
        assert answer["messages"][0]["id"].startswith("wamid.")
        [call] = meta.calls
        assert call.path == "/v21.0/1234567890/messages" and call.authorization == "Bearer token-abc"
        assert call.body == body

        meta.fail(1, 400, 80007, "Rate limit hit")
        with pytest.raises(RateLimited) as limited:
            await client.post("1234567890/messages", body)
        assert limited.value.retry_after == 60.0

        wrong = GraphClient(http, "stale-token", base_url=url)
        with pytest.raises(ChannelError, match="access token") as rejected:
            await wrong.post("1234567890/messages", body)
        assert rejected.value.retryable is False


async def test_an_unreachable_graph_api_is_a_retryable_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as http:
        client = GraphClient(http, "token", base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(ChannelError, match="unreachable") as error:
            await client.post("1/messages", {})
        assert error.value.retryable is True
