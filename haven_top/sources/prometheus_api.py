"""Blocking access to a Prometheus HTTP API through prometheus-api-client.

Every failure is raised as `PrometheusQueryError` with a one-line message that
names the server and the fix. Call these from worker threads: they block.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

import requests
from prometheus_api_client import PrometheusApiClientException
from urllib3.util.retry import Retry

from haven_top.core.snapshot import Alert
from haven_top.core.token import Secret
from haven_top.core.urls import redact_url
from haven_top.sources.promql import (
    DEFAULT_TIMEOUT,
    LabelMatcher,
    labels_fit,
    sample_value,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PrometheusQueryError(Exception):
    """A request to Prometheus failed; the message is one line for the operator."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        """True when the server sent no response at all (refused, timed out, TLS)."""


@dataclass(frozen=True)
class PrometheusSettings:
    """Location of a Prometheus HTTP API and the credentials to use there."""

    url: str
    selector: str = ""
    """Label matchers every query is limited to, such as `job="haven"`."""
    bearer_token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    ca_file: str | None = None
    """PEM file of the CA that signed the server's certificate, for https URLs."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds before a request is given up; the server gets the same limit."""

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^/\s]+", self.url):
            raise ValueError(
                f"invalid Prometheus URL {redact_url(self.url)!r}; use "
                "http://HOST:PORT or https://HOST:PORT"
            )
        if self.timeout <= 0:
            raise ValueError(
                f"invalid Prometheus timeout {self.timeout!r}; use seconds above 0"
            )
        if self.bearer_token and self.username:
            raise ValueError(
                "both a bearer token and a user name were given for Prometheus; "
                "use one of them"
            )


class PrometheusClient:
    """Blocking calls to one Prometheus HTTP API; safe to call from threads.

    Failed requests are not retried here, because the next poll is the retry.
    Every failure is raised as `PrometheusQueryError`.
    """

    def __init__(self, settings: PrometheusSettings) -> None:
        # Imported here so that importing this module stays cheap for the CLI.
        from prometheus_api_client import PrometheusConnect

        self.settings = settings
        self._url = settings.url.rstrip("/")
        # requests sends the user and password of the URL as basic auth, and
        # messages name the server by `_redacted_url`, without the password.
        self._redacted_url = redact_url(self._url)
        self._session = requests.Session()
        self._session.verify = settings.ca_file or True
        self._headers: dict[str, str] = {}
        if settings.bearer_token:
            self._headers["Authorization"] = f"Bearer {settings.bearer_token.reveal()}"
        self._auth = None
        if settings.username:
            password = settings.password.reveal() if settings.password else ""
            self._auth = (settings.username, password)
        self._connect = PrometheusConnect(
            url=self._url,
            headers=self._headers or None,
            auth=self._auth,
            session=self._session,
            timeout=settings.timeout,
            retry=Retry(total=0, connect=0, read=0, status=0, redirect=0),
        )
        self._server_timeout = {"timeout": f"{settings.timeout:g}s"}

    def close(self) -> None:
        self._connect.close()

    def query(self, promql: str, at: float) -> list[dict[str, Any]]:
        """Evaluate an instant query at Unix time `at`; return its result list."""
        params = {"time": f"{at:.3f}", **self._server_timeout}
        return self._call(lambda: self._connect.custom_query(promql, params=params))

    def query_range(
        self, promql: str, start: float, end: float, step: float
    ) -> list[dict[str, Any]]:
        """Evaluate a range query; `start` and `end` are whole Unix seconds."""
        start_time = datetime.fromtimestamp(start, timezone.utc)
        end_time = datetime.fromtimestamp(end, timezone.utc)
        return self._call(
            lambda: self._connect.custom_query_range(
                promql, start_time, end_time, f"{step:g}", params=self._server_timeout
            )
        )

    def alerts(self) -> list[dict[str, Any]]:
        """Return the pending and firing alerts from `/api/v1/alerts`."""
        return self._get("/api/v1/alerts").get("alerts", [])

    def alert_rules(self) -> list[dict[str, Any]]:
        """Return every alerting rule from `/api/v1/rules`, across groups."""
        data = self._get("/api/v1/rules", {"type": "alert"})
        rules = []
        for group in data.get("groups", []):
            rules.extend(group.get("rules", []))
        return rules

    def active_targets(self) -> list[dict[str, Any]]:
        """Return the active scrape targets with their last error."""
        return self._call(lambda: self._connect.get_targets(state="active")).get(
            "activeTargets", []
        )

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        def request() -> Any:
            response = self._session.get(
                self._url + path,
                params=params,
                headers=self._headers,
                auth=self._auth,
                timeout=self.settings.timeout,
            )
            if response.status_code != 200:
                raise PrometheusApiClientException(
                    f"HTTP Status Code {response.status_code} ({response.content!r})"
                )
            return response.json().get("data", {})

        return self._call(request)

    def _call(self, request: Callable[[], T]) -> T:
        try:
            return request()
        except requests.exceptions.SSLError as exc:
            raise PrometheusQueryError(
                f"TLS handshake with {self._redacted_url} failed ({_reason(exc)}); "
                "pass the server's CA with --prometheus-ca-file",
                unreachable=True,
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise PrometheusQueryError(
                f"request to {self._redacted_url} timed out after "
                f"{self.settings.timeout:g} s; raise --prometheus-timeout",
                unreachable=True,
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise PrometheusQueryError(
                f"cannot reach {self._redacted_url}: {_reason(exc)}", unreachable=True
            ) from exc
        except PrometheusApiClientException as exc:
            raise PrometheusQueryError(self._http_message(str(exc))) from exc
        except ValueError as exc:
            raise PrometheusQueryError(
                f"{self._redacted_url} returned a body that is not Prometheus API "
                "JSON; check that the URL points at a Prometheus server"
            ) from exc

    def _http_message(self, text: str) -> str:
        match = re.search(r"HTTP Status Code (\d+)", text)
        status = int(match.group(1)) if match else 0
        server = self._redacted_url
        if status in (401, 403):
            where = (
                "--prometheus-bearer-token-file or --prometheus-user and its password"
            )
            if server != self._url:
                where = "the user and password in the --prometheus URL"
            return f"{server} rejected the credentials (HTTP {status}); check {where}"
        detail = _error_detail(text)
        if status == 400 and "parse error" in detail:
            return f"{server} rejected a query: {detail}; check the --selector value"
        return f"{server} answered HTTP {status}: {detail}"


def _error_detail(text: str) -> str:
    """Find the `error` field of the API body quoted in a client exception."""
    quoted = re.search(r"\((b(['\"]).*\2)\)\s*$", text, re.DOTALL)
    if not quoted:
        return " ".join(text.split())[:200]
    try:
        body = ast.literal_eval(quoted.group(1))
    except (ValueError, SyntaxError):
        return " ".join(text.split())[:200]
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if not error:
        error = body.decode(errors="replace")
    return " ".join(str(error).split())[:300]


def _reason(exc: BaseException) -> str:
    """Find the innermost cause of a requests error, in one short line."""
    text = str(exc)
    for pattern in (
        r"Connection refused",
        r"Name or service not known",
        r"certificate verify failed[^')\"]*",
        r"No route to host",
        r"Connection reset by peer",
    ):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip().rstrip(".")
    return redact_url(text.splitlines()[0][:200]) if text else type(exc).__name__


def parse_rfc3339(text: str | None) -> float | None:
    """Convert an RFC 3339 time such as Prometheus writes to Unix seconds."""
    if not text:
        return None
    match = re.match(
        r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", text
    )
    if not match:
        return None
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    moment = datetime.fromisoformat(base + zone)
    if moment.year <= 1:
        return None
    return moment.timestamp() + (float(fraction) if fraction else 0.0)


def alerts_from_api(
    active: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    selector: Sequence[LabelMatcher] = (),
) -> tuple[Alert, ...]:
    """Convert the alerts API's alerts, plus rules with none, to `Alert`s.

    Prometheus gives `activeAt`, when an alert turned pending. A firing alert
    entered that state `for` seconds later, which the rules API supplies.
    Alerts and rules whose labels contradict `selector` are left out, as
    `promql.labels_fit` decides.
    """
    durations = {rule.get("name"): rule.get("duration") for rule in rules}
    alerts = []
    for item in active:
        labels = {str(k): str(v) for k, v in item.get("labels", {}).items()}
        if not labels_fit(labels, selector):
            continue
        name = labels.pop("alertname", "unnamed")
        state = str(item.get("state", "firing"))
        since = parse_rfc3339(item.get("activeAt"))
        duration = durations.get(name)
        if state == "firing" and since is not None and duration is not None:
            since += float(duration)
        # NOTE: without the rules API a firing alert's `since` is its activeAt,
        # the start of its pending state.
        alerts.append(
            Alert(
                name=name,
                state=state,
                since=since,
                value=sample_value(item.get("value")),
                summary=_summary(item.get("annotations", {})),
                labels=labels,
            )
        )
    named = {alert.name for alert in alerts}
    for rule in rules:
        if rule.get("name") in named or rule.get("state") != "inactive":
            continue
        name = str(rule.get("name", "unnamed"))
        labels = {str(k): str(v) for k, v in rule.get("labels", {}).items()}
        if not labels_fit({"alertname": name, **labels}, selector):
            continue
        alerts.append(
            Alert(
                name=name,
                state="inactive",
                summary=_summary(rule.get("annotations", {})),
                labels=labels,
            )
        )
    order = {"firing": 0, "pending": 1}
    return tuple(sorted(alerts, key=lambda a: (order.get(a.state, 2), a.name)))


def _summary(annotations: Mapping[str, Any]) -> str:
    return str(annotations.get("summary") or annotations.get("description") or "")
