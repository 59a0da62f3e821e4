"""A Prometheus URL with a user and password (`http://user:pw@host:9090`).

The password goes to the server as basic auth and appears in no message,
progress line, snapshot, screen text, `--once` output or log record. The
server is a real Prometheus on 127.0.0.1 that requires basic auth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_server import (
    TEST_PASSWORD,
    TEST_PASSWORD_BCRYPT,
    TEST_USER,
    PrometheusServer,
    free_port,
    start_prometheus,
)

from haven_top.cli import main
from haven_top.core.snapshot import Snapshot
from haven_top.headless import format_text, snapshot_document
from haven_top.sources.prometheus import PrometheusProvider, PrometheusSettings
from haven_top.ui.widgets.targets import targets_content

WRONG_PASSWORD = "wrong-pw-5d1c9a"


@pytest.fixture(scope="module")
def guarded() -> Iterator[PrometheusServer]:
    web_config = {"basic_auth_users": {TEST_USER: TEST_PASSWORD_BCRYPT}}
    server = start_prometheus([], web_config=web_config)
    try:
        yield server
    finally:
        server.stop()


def with_password(url: str, password: str) -> str:
    return url.replace("://", f"://{TEST_USER}:{password}@", 1)


async def poll_once(url: str) -> tuple[PrometheusProvider, Snapshot]:
    provider = PrometheusProvider(PrometheusSettings(url, timeout=2), interval=0.2)
    await provider.start()
    try:
        assert await provider.wait_for_poll(5)
        return provider, provider.snapshot(window_seconds=10)
    finally:
        await provider.stop()


def shown_texts(provider: PrometheusProvider, snapshot: Snapshot) -> list[str]:
    """Everything an operator may read about this snapshot."""
    return [
        provider.progress,
        format_text(snapshot),
        orjson.dumps(snapshot_document(snapshot)).decode(),
        targets_content(snapshot.targets).plain,
    ]


async def test_password_in_url_authenticates(guarded: PrometheusServer) -> None:
    provider, snapshot = await poll_once(with_password(guarded.url, TEST_PASSWORD))
    assert provider.has_data()
    assert provider.progress == ""
    assert snapshot.targets == ()


async def test_rejected_password_is_hidden(
    guarded: PrometheusServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider, snapshot = await poll_once(with_password(guarded.url, WRONG_PASSWORD))
    (server,) = snapshot.targets
    assert server.up is False
    assert "rejected the credentials (HTTP 401)" in (server.error or "")
    assert "check the user and password in the --prometheus URL" in server.error
    hidden = with_password(guarded.url, "***")
    assert server.url == hidden
    assert hidden in (server.error or "")
    assert hidden in provider.progress
    texts = shown_texts(provider, snapshot)
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert WRONG_PASSWORD not in text


async def test_unreachable_server_hides_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = with_password(f"http://127.0.0.1:{free_port()}", WRONG_PASSWORD)
    provider, snapshot = await poll_once(url)
    (server,) = snapshot.targets
    assert "Connection refused" in (server.error or "")
    assert "haven:***@127.0.0.1" in (server.error or "")
    texts = shown_texts(provider, snapshot)
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert WRONG_PASSWORD not in text


def test_invalid_url_message_hides_password() -> None:
    with pytest.raises(ValueError, match="invalid Prometheus URL") as error:
        PrometheusSettings(f"ftp://{TEST_USER}:{WRONG_PASSWORD}@127.0.0.1:9090")
    assert WRONG_PASSWORD not in str(error.value)
    assert "haven:***@" in str(error.value)


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_once_hides_rejected_password(
    guarded: PrometheusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    output_format: str,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    url = with_password(guarded.url, WRONG_PASSWORD)
    status = main(["--once", "--format", output_format, "--prometheus", url])
    captured = capsys.readouterr()
    assert status == 1
    assert "rejected the credentials" in captured.out
    assert "haven:***@" in captured.out
    assert WRONG_PASSWORD not in captured.out + captured.err
