"""workers.connection: masked URLs, Sentinel and TLS URLs, the outage retry's budget."""

from __future__ import annotations

import copy
import ssl

import pytest
import redis

from workers.connection import (
    OutageRetry,
    broker_settings,
    mask_text,
    mask_url,
    parse_sentinel_url,
    publish_retry_policy,
)
from workers.errors import RedisUnavailableError


@pytest.mark.parametrize(("url", "masked"), [
    ("redis://:s3cret@host:6379/0", "redis://:**@host:6379/0"),
    ("redis://user:s3cret@host:6379/0", "redis://user:**@host:6379/0"),
    ("rediss://:p@h:6380/0?ssl_ca_certs=/ca.pem", "rediss://:**@h:6380/0?ssl_ca_certs=/ca.pem"),
    ("redis://h:6379/0?password=x&db=1", "redis://h:6379/0?password=**&db=1"),
    ("sentinel://:p@h1:26379;sentinel://u:q@h2:26379/0",
     "sentinel://:**@h1:26379;sentinel://u:**@h2:26379/0"),
    ("redis://host:6379/0", "redis://host:6379/0"),
    (None, ""),
])
def test_mask_url_hides_every_password(url: str | None, masked: str) -> None:
    assert mask_url(url) == masked


def test_errors_never_show_the_password() -> None:
    err = RedisUnavailableError("redis://:hunter2@h:1/0", "AUTH hunter2 failed")
    assert "hunter2" not in str(err) and "redis://:**@h:1/0" in str(err)
    assert err.url == "redis://:**@h:1/0"
    assert mask_text("url redis://:abc@h x", "redis://:abc@h") == "url redis://:**@h x"


def test_sentinel_url_in_celerys_form() -> None:
    parsed = parse_sentinel_url("sentinel://:pw@h1:26379;sentinel://h2:26380;sentinel://h3/2")
    assert parsed.sentinels == [("h1", 26379), ("h2", 26380), ("h3", 26379)]
    assert parsed.password == "pw" and parsed.db == 2
    with pytest.raises(ValueError, match="is not sentinel://host:port"):
        parse_sentinel_url("sentinel://:pw@h1:26379;redis://h2:6379")
    with pytest.raises(ValueError, match="bad database number"):
        parse_sentinel_url("sentinel://h1:26379/x")
    settings = broker_settings("sentinel://:pw@h1:26379;sentinel://h2:26379/0",
                               sentinel_master="prod")
    assert settings["broker_transport_options"] == {"master_name": "prod"}


def test_tls_url_becomes_celerys_broker_use_ssl() -> None:
    settings = broker_settings("rediss://:p@h:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/ca"
                               "&ssl_certfile=/c&ssl_keyfile=/k")
    assert settings["broker_url"] == "rediss://:p@h:6380/0"
    assert settings["broker_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED,
                                          "ssl_ca_certs": "/ca", "ssl_certfile": "/c",
                                          "ssl_keyfile": "/k"}


def test_outage_retry_gives_up_only_past_its_budget() -> None:
    now = [0.0]
    retry = OutageRetry(10.0, clock=lambda: now[0])
    assert copy.deepcopy(retry) is retry  # one clock for every connection of a client
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        now[0] += 3.0
        if len(calls) < 3:
            raise redis.ConnectionError("down")
        return "ok"

    assert retry.call_with_retry(flaky, lambda _e: None) == "ok"
    assert len(calls) == 3 and retry.outages == 1 and not retry.in_outage

    def down() -> None:
        now[0] += 4.0
        raise redis.ConnectionError("still down")

    with pytest.raises(redis.ConnectionError, match="still down"):
        retry.call_with_retry(down, lambda _e: None)
    assert retry.in_outage and retry.outages == 1

    def other() -> None:
        raise ValueError("not a connection error")

    with pytest.raises(ValueError):
        retry.call_with_retry(other, lambda _e: None)


def test_publish_retry_policy_waits_about_the_budget() -> None:
    policy = publish_retry_policy(30.0)
    pauses = [min(policy["interval_step"] * i, policy["interval_max"])
              for i in range(int(policy["max_retries"]))]
    assert 30.0 <= sum(pauses) < 32.0
