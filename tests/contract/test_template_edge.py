"""R-SEC-5, the edge: what the template puts in front of the API and the web front (access logs, TLS, security
headers, the client-side route rewrite limited to web paths, a rate rule on sign-in, the authorizer's reserved
concurrency), and that devstack's gateway does what the edge does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from werkzeug.test import Client

from devstack.console import Console
from devstack.gateway import Gateway
from tests.contract import cfn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict:
    return cfn.resources()


@pytest.fixture(scope="module")
def distribution(resources) -> dict:
    return resources["WebDistribution"]["Properties"]["DistributionConfig"]


def test_r_sec_5_every_api_request_is_logged_as_json_with_caller_route_status_and_latency(resources):
    settings = resources["Api"]["Properties"]["AccessLogSetting"]
    assert settings["DestinationArn"] == {"!GetAtt": "ApiAccessLogGroup.Arn"}
    line = json.loads(settings["Format"].replace("\n", ""))  # API Gateway fills in each $context variable
    assert {
        "requestId": "$context.requestId",
        "caller": "$context.authorizer.principalId",
        "route": "$context.resourcePath",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
    }.items() <= line.items()
    assert resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"!Ref": "LogRetentionDays"}
    assert resources["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {"!GetAtt": "ApiGatewayLogsRole.Arn"}


def test_r_sec_5_tls_1_2_or_later_on_a_domain_of_our_own_and_to_the_api(distribution):
    _, own_domain, default = distribution["ViewerCertificate"]["!If"]
    assert own_domain["MinimumProtocolVersion"] == "TLSv1.2_2021" and own_domain["SslSupportMethod"] == "sni-only"
    assert default == {"CloudFrontDefaultCertificate": True}  # no domain given: *.cloudfront.net (README says)
    api_origin = next(origin for origin in distribution["Origins"] if origin["Id"] == "api")
    assert api_origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_r_sec_5_web_and_api_get_the_security_headers_and_the_csp_of_the_front(resources, distribution):
    behaviours = [distribution["DefaultCacheBehavior"], *distribution["CacheBehaviors"]]
    assert all(b["ResponseHeadersPolicyId"] == {"!Ref": "WebSecurityHeaders"} for b in behaviours)
    config = resources["WebSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert config["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert config["FrameOptions"]["FrameOption"] == "DENY" and "ContentTypeOptions" in config
    page = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', (ROOT / "web/index.html").read_text())
    header = " ".join(config["ContentSecurityPolicy"]["ContentSecurityPolicy"].split())
    assert header == f"{page.group(1)}; frame-ancestors 'none'"  # the page's own policy, plus what only a header can
    assert all(settings.get("Override", True) for settings in config.values())


def test_r_sec_5_an_api_error_is_never_turned_into_the_web_shell(distribution):
    # A distribution-wide error page (the old 403 -> /index.html) also rewrote the API's own 403s into a 200 page.
    assert "CustomErrorResponses" not in distribution
    (association,) = distribution["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association == {
        "EventType": "viewer-request",
        "FunctionARN": {"!GetAtt": "WebShellRewrite.FunctionMetadata.FunctionARN"},
    }
    api = next(b for b in distribution["CacheBehaviors"] if b["PathPattern"] == "/api/*")
    assert "FunctionAssociations" not in api


WEB_PATHS = ["/", "/tasks", "/staff/employees/42", "/app.js", "/pages/tasks.js", "/styles.css", "/missing.js"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the CloudFront function here")
def test_r_sec_5_the_edge_function_and_devstack_serve_the_shell_for_the_same_paths(resources, tmp_path):
    """The CloudFront function runs under node (CloudFront's runtime is JavaScript too); devstack's gateway must
    give the shell for exactly the paths the function rewrites to it, and files for the rest."""
    code = resources["WebShellRewrite"]["Properties"]["FunctionCode"]
    script = tmp_path / "edge.js"
    script.write_text(code + "\nconsole.log(JSON.stringify(JSON.parse(process.argv[2]).map("
                      "(uri) => handler({request: {uri: uri}}).uri)));\n")  # fmt: skip
    result = subprocess.run(["node", str(script), json.dumps(WEB_PATHS)], capture_output=True, text=True, check=True)
    at_the_edge = dict(zip(WEB_PATHS, json.loads(result.stdout), strict=True))
    assert at_the_edge["/staff/employees/42"] == "/index.html" and at_the_edge["/app.js"] == "/app.js"

    local = Client(Gateway(ROOT / "web", Console(tmp_path / "logs", quiet=True)))
    shell = local.get("/index.html").data
    for path, rewritten in at_the_edge.items():
        served = local.get(path)
        assert (served.status_code == 200 and served.data == shell) == (rewritten == "/index.html"), path


def test_r_sec_5_a_rate_rule_on_sign_in_at_the_edge_is_on_in_prod(resources, distribution):
    acl = resources["EdgeWebAcl"]
    assert acl["Condition"] == "HasEdgeLoginRateLimit" and acl["Properties"]["Scope"] == "CLOUDFRONT"
    (rule,) = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == {"!Ref": "EdgeLoginRateLimit"} and rate["AggregateKeyType"] == "IP"
    assert rate["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/api/auth/login"
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    assert distribution["WebACLId"]["!If"][0] == "HasEdgeLoginRateLimit"
    prod = tomllib.loads((ROOT / "samconfig.toml").read_text())["prod"]["deploy"]["parameters"]
    assert int(re.search(r"EdgeLoginRateLimit=(\d+)", prod["parameter_overrides"]).group(1)) > 0


def test_r_sec_5_the_authorizer_has_reserved_concurrency(resources):
    reserved = resources["AuthorizerFunction"]["Properties"]["ReservedConcurrentExecutions"]["!If"]
    assert reserved[:2] == ["HasAuthorizerReservation", {"!Ref": "AuthorizerReservedConcurrency"}]
