"""What CloudFront adds at the edge in AWS, for the local gateway to add too: the headers of the template's
response headers policy (R-SEC-5), on every web and API answer, so the front runs locally under the same
content security policy, framing and sniffing rules as in production."""

from __future__ import annotations

from typing import Any

from devstack.template import Stack

POLICY = "AWS::CloudFront::ResponseHeadersPolicy"


def security_headers(stack: Stack) -> list[tuple[str, str]]:
    """The headers the template's response headers policies set (their security and custom headers)."""
    headers: list[tuple[str, str]] = []
    for logical_id, resource in stack.of_type(POLICY).items():
        config = (resource.get("Properties") or {}).get("ResponseHeadersPolicyConfig") or {}
        try:
            headers += _security(config.get("SecurityHeadersConfig") or {})
        except KeyError as unknown:
            raise ValueError(f"{logical_id}: security header {unknown} is not supported by devstack") from None
        custom = (config.get("CustomHeadersConfig") or {}).get("Items", [])
        headers += [(item["Header"], item["Value"]) for item in custom]
    return headers


def _security(config: dict[str, Any]) -> list[tuple[str, str]]:
    render = {
        "StrictTransportSecurity": lambda c: (
            "Strict-Transport-Security",
            f"max-age={c['AccessControlMaxAgeSec']}"
            + ("; includeSubDomains" if _true(c.get("IncludeSubdomains")) else "")
            + ("; preload" if _true(c.get("Preload")) else ""),
        ),
        "ContentSecurityPolicy": lambda c: ("Content-Security-Policy", " ".join(c["ContentSecurityPolicy"].split())),
        "FrameOptions": lambda c: ("X-Frame-Options", c["FrameOption"]),
        "ContentTypeOptions": lambda c: ("X-Content-Type-Options", "nosniff"),
        "ReferrerPolicy": lambda c: ("Referrer-Policy", c["ReferrerPolicy"]),
    }
    return [render[name](settings) for name, settings in config.items()]


def _true(value: Any) -> bool:
    return str(value).lower() == "true"  # YAML gives a bool, JSON templates often the string


def with_headers(start_response: Any, headers: list[tuple[str, str]]) -> Any:
    """A WSGI `start_response` that sets `headers` over the application's own (CloudFront's `Override`)."""
    if not headers:
        return start_response
    names = {name.lower() for name, _ in headers}

    def respond(status: str, own: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [h for h in own if h[0].lower() not in names] + headers, exc_info)

    return respond
