"""template.yaml is deployable as it is: cfn-lint, `sam validate --lint` and `sam build` all pass, and the
conventions the issue asks for hold (every function has a log group, the API's authorizer is uncached)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub...) as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def sam_env() -> dict:
    # `sam build` needs the runtime's exact python3.12 on PATH: the project's virtualenv has it.
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}


def test_cfn_lint_passes():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "template.yaml"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes():
    if not SAM.exists():
        pytest.fail("SAM CLI missing: run `make test`, which installs it into .tools/sam")
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--template", "template.yaml"], cwd=ROOT, capture_output=True, text=True,
        env=sam_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sam_build_succeeds(tmp_path):
    if not SAM.exists():
        pytest.fail("SAM CLI missing: run `make test`, which installs it into .tools/sam")
    if shutil.which("python3.12", path=sam_env()["PATH"]) is None:
        pytest.skip("sam build needs python3.12 on PATH (the Lambda runtime); this venv is not 3.12")
    build = tmp_path / "build"
    result = subprocess.run(
        [str(SAM), "build", "--template", "template.yaml", "--build-dir", str(build), "--cached",
         "--cache-dir", str(ROOT / ".aws-sam" / "cache"), "--parallel"],
        cwd=ROOT, capture_output=True, text=True, env=sam_env(), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (build / "AuthApiFunction" / "auth" / "api.py").exists()
    assert (build / "AuthApiFunction" / "jwt").is_dir()  # runtime dependencies are packaged


def test_every_function_has_a_log_group_with_retention(template):
    resources = template["Resources"]
    functions = [name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    assert functions
    for name in functions:
        group = resources.get(f"{name}LogGroup")
        assert group and group["Type"] == "AWS::Logs::LogGroup", f"{name} has no log group"
        assert "RetentionInDays" in group["Properties"]


def test_r_auth_3_the_api_authorizer_is_the_default_and_not_cached(template):
    auth = template["Resources"]["Api"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionPayloadType"] == "TOKEN"
    assert authorizer["Identity"]["ReauthorizeEvery"] == 0


def test_every_route_is_under_api_and_only_sign_in_routes_are_open(template):
    open_routes = set()
    for resource in template["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event["Type"] != "Api":
                continue
            path = event["Properties"]["Path"]
            assert path.startswith("/api/"), path
            if event["Properties"].get("Auth", {}).get("Authorizer") == "NONE":
                open_routes.add(path)
    # open: sign-in, the public keys, and redeeming an invitation (the link carries its own secret)
    assert open_routes == {"/api/auth/login", "/api/auth/.well-known/jwks.json", "/api/auth/password"}


def test_gateway_errors_have_the_handlers_json_shape(template):
    responses = template["Resources"]["Api"]["Properties"]["GatewayResponses"]
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"):
        body = responses[kind]["ResponseTemplates"]["application/json"]
        assert body.startswith('{"error": {"code": ') and '"message": ' in body


def test_every_table_has_point_in_time_recovery(template):
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables
    for table in tables:
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
