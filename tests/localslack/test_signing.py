from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from localslack import sign_request
from localslack.signing import signed_headers

SLACK_EXAMPLE_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)


def test_sign_request_matches_slack_documented_example() -> None:
    signature = sign_request("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", SLACK_EXAMPLE_BODY)
    assert signature == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_signed_headers_accepted_by_slack_sdk_verifier() -> None:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    headers = signed_headers("local-secret", body)
    verifier = SignatureVerifier("local-secret")
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)


def test_signed_headers_use_the_current_time() -> None:
    headers = signed_headers("s", b"", now=1531420618)
    assert headers["X-Slack-Request-Timestamp"] == "1531420618"
    assert abs(int(signed_headers("s", b"")["X-Slack-Request-Timestamp"]) - time.time()) < 5
