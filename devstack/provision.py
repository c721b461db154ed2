"""Create the translated template's AWS resources in the emulator with boto3, in dependency order.

Only the types the stack uses locally are created; every other type is REPORTED with a one-line
reason (never silently ignored). Types that devstack runs itself instead of the emulator (functions,
event source mappings, schedules, the REST API) are left to their modules, which read them from the
same resolved template. Resources the template leaves unnamed get stable names derived from their
logical id (`ates-local-AuthTable`), so a restart finds the same names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack import aws
from devstack.intrinsics import Resolver, references
from devstack.template import PARTITION, Stack

# Types devstack runs itself (not in the emulator); their modules read them from the template.
RUN_BY_DEVSTACK = {
    "AWS::Lambda::Function": "workers",
    "AWS::Lambda::LayerVersion": "workers",  # its directory on the path of the functions that name it
    "AWS::Lambda::EventSourceMapping": "pollers",
    "AWS::Scheduler::Schedule": "scheduler",
    "AWS::ApiGateway::RestApi": "gateway",
    "AWS::CloudFront::ResponseHeadersPolicy": "gateway",  # its headers on every web and API answer (edge)
    "AWS::CloudFront::Function": "gateway",  # the shell for client-side routes, as the gateway's static files
}

# Types deliberately not created locally, and why (shown at startup).
SKIP_REASONS = {
    "AWS::IAM::Role": "IAM is not enforced locally",
    "AWS::IAM::Policy": "IAM is not enforced locally",
    "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
    "AWS::Lambda::Permission": "invoke permissions are not enforced locally",
    "AWS::Lambda::Version": "devstack runs the code in functions/ as $LATEST",
    "AWS::Lambda::Alias": "devstack runs the code in functions/ as $LATEST",
    "AWS::ApiGateway::Deployment": "the local gateway serves the API at /api",
    "AWS::ApiGateway::Stage": "the local gateway serves the API at /api",
    "AWS::ApiGateway::Account": "the local gateway serves the API at /api",
    "AWS::CloudFront::Distribution": "the local gateway serves web/ and /api on one origin",
    "AWS::CloudFront::OriginAccessControl": "the local gateway serves web/ and /api on one origin",
    "AWS::CloudFront::CachePolicy": "the local gateway serves web/ and /api on one origin",
    "AWS::WAFv2::WebACL": "no edge locally: sign-in is still limited per email (R-SEC-1)",
    "AWS::S3::BucketPolicy": "resource policies are not enforced locally",
    "AWS::SQS::QueuePolicy": "resource policies are not enforced locally",
    "AWS::EventSchemas::Registry": "EventSchemas is not in moto (the schemas live in schemas/)",
    "AWS::EventSchemas::Schema": "EventSchemas is not in moto (the schemas live in schemas/)",
    "AWS::Backup::BackupVault": "AWS Backup is not in moto",
    "AWS::Backup::BackupPlan": "AWS Backup is not in moto: devstack/backups.py takes its backups on its schedule",
    "AWS::Backup::BackupSelection": "AWS Backup is not in moto: devstack/backups.py backs up its tables",
    "AWS::CloudWatch::Alarm": "alarms are not evaluated locally",
    "AWS::CloudWatch::Dashboard": "dashboards are not served locally",
    "AWS::Glue::Database": "analytics queries run on DuckDB locally, not Athena/Glue",
    "AWS::Glue::Table": "analytics queries run on DuckDB locally, not Athena/Glue",
    "AWS::Athena::WorkGroup": "analytics queries run on DuckDB locally, not Athena/Glue",
    "AWS::Athena::NamedQuery": "analytics queries run on DuckDB locally, not Athena/Glue",
    "AWS::Scheduler::ScheduleGroup": "devstack's scheduler fires every schedule itself",
    "AWS::Logs::MetricFilter": "metrics are not collected locally",
}
UNSUPPORTED = "not supported by devstack"
# What an AWS::SES::Template's `Template` property holds (SES v1: moto's sesv2 has no templates).
SES_TEMPLATE = ("TemplateName", "SubjectPart", "TextPart", "HtmlPart")


@dataclass(frozen=True)
class Skipped:
    logical_id: str
    type: str
    reason: str


@dataclass
class Provisioned:
    """What the emulator now holds, and how to resolve the template against it."""

    stack: Stack
    endpoint_url: str
    resolver: Resolver
    created: dict[str, str] = field(default_factory=dict)  # logical id -> type
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ttl_attributes: dict[str, str] = field(default_factory=dict)  # table name -> TTL attribute
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue ARN -> URL
    # Queue ARN -> the rule targets feeding it, for what moto drops (`Input`, `InputPath`).
    queue_targets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    conditional_off: set[str] = field(default_factory=set)

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's Properties with every intrinsic resolved."""
        return self.resolver.resolve(self.stack.resources[logical_id].get("Properties") or {})

    def active(self, *types: str) -> dict[str, dict[str, Any]]:
        """Resources of these types whose Condition (if any) holds."""
        return {k: v for k, v in self.stack.of_type(*types).items() if k not in self.conditional_off}

    def function_id(self, name_or_arn: str) -> str | None:
        """The logical id of the function with this name or ARN (ARN may carry a qualifier)."""
        name = name_or_arn.split(":function:", 1)[1].split(":")[0] if ":function:" in name_or_arn else name_or_arn
        for logical_id in self.stack.of_type("AWS::Lambda::Function"):
            if self.resolver.ref(logical_id) == name:
                return logical_id
        return None


class ProvisionError(RuntimeError):
    """A resource could not be created; the message names it."""


def provision(stack: Stack, endpoint_url: str, *, web_origin: str = "127.0.0.1") -> Provisioned:
    """Create every supported resource of `stack` in the emulator at `endpoint_url`."""
    return _Provisioner(stack, endpoint_url, web_origin).run()


class _Provisioner:
    def __init__(self, stack: Stack, endpoint_url: str, web_origin: str) -> None:
        self.stack = stack
        self.endpoint_url = endpoint_url
        self.web_origin = web_origin
        self.refs: dict[str, Any] = {}
        self.attrs: dict[str, dict[str, Any]] = {}
        self.resolver = Resolver(stack, self._ref, self._get_att)
        self.result = Provisioned(stack=stack, endpoint_url=endpoint_url, resolver=self.resolver)
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SES::EmailIdentity": self._ses_identity,
            "AWS::SES::Template": self._ses_template,
            "AWS::SES::ConfigurationSet": self._ses_configuration_set,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SSM::Parameter": self._ssm_parameter,
        }

    def client(self, service: str) -> Any:
        return aws.client(service, self.endpoint_url)

    # -- references ---------------------------------------------------------------------------------
    def _ref(self, logical_id: str) -> Any:
        if logical_id not in self.refs:
            self._placeholder(logical_id)
        return self.refs[logical_id]

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.refs:
            self._placeholder(logical_id)
        attrs = self.attrs.get(logical_id, {})
        if attribute in attrs:
            return attrs[attribute]
        props = self.stack.resources[logical_id].get("Properties") or {}
        if attribute in props:
            return self.resolver.resolve(props[attribute])
        return f"{self.refs[logical_id]}.{attribute}"

    def _placeholder(self, logical_id: str) -> None:
        """Ref and attributes of a resource that is not created in the emulator, shaped like AWS's."""
        resource = self.stack.resources[logical_id]
        kind = resource.get("Type", "")
        props = resource.get("Properties") or {}
        region, account = self.stack.region, self.stack.account_id
        name = self.stack.physical_name(logical_id)
        if kind == "AWS::Lambda::Function":
            name = _fit(self.resolver.resolve(props.get("FunctionName")) or name, 64)
            self._record(logical_id, name, Arn=f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}")
        elif kind == "AWS::Lambda::LayerVersion":  # a function's Layers name it by its version's ARN
            name = _fit(self.resolver.resolve(props.get("LayerName")) or name, 64)
            self._record(logical_id, f"arn:{PARTITION}:lambda:{region}:{account}:layer:{name}:1")
        elif kind == "AWS::IAM::Role":
            name = _fit(self.resolver.resolve(props.get("RoleName")) or name, 64)
            self._record(logical_id, name, Arn=f"arn:{PARTITION}:iam::{account}:role/{name}", RoleId=_short_id(name))
        elif kind == "AWS::ApiGateway::RestApi":
            self._record(logical_id, _short_id(logical_id), RootResourceId=_short_id(logical_id + "/"))
        elif kind == "AWS::CloudFront::Distribution":
            self._record(logical_id, _short_id(logical_id).upper(), DomainName=self.web_origin, Id=_short_id(name))
        else:
            service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
            ident = _short_id(name) if kind.endswith(("::OriginAccessControl", "::Deployment")) else name
            self._record(logical_id, ident, Arn=f"arn:{PARTITION}:{service}:{region}:{account}:{name}", Id=ident)

    def _record(self, logical_id: str, ref: Any, **attrs: Any) -> None:
        self.refs[logical_id] = ref
        self.attrs[logical_id] = attrs

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> Provisioned:
        for logical_id in self._order():
            resource = self.stack.resources[logical_id]
            kind = resource.get("Type", "")
            condition = resource.get("Condition")
            if condition and not self.resolver.condition(condition):
                self.result.conditional_off.add(logical_id)
                self._placeholder(logical_id)
                continue
            creator = self._creators.get(kind)
            scheduled = kind == "AWS::Events::Rule" and (resource.get("Properties") or {}).get("ScheduleExpression")
            if creator is None or scheduled:  # a scheduled rule is fired by devstack's scheduler (moto never does)
                self._placeholder(logical_id)
                if kind not in RUN_BY_DEVSTACK and not scheduled:
                    self.result.skipped.append(Skipped(logical_id, kind, SKIP_REASONS.get(kind, UNSUPPORTED)))
                continue
            try:
                creator(logical_id, self.resolver.resolve(resource.get("Properties") or {}))
            except Exception as error:
                raise ProvisionError(f"creating {logical_id} ({kind}) failed: {error}") from error
            self.result.created[logical_id] = kind
        return self.result

    def _order(self) -> list[str]:
        """Resources in dependency order (Ref, GetAtt, Sub, DependsOn); cycles keep template order."""
        resources = self.stack.resources
        deps: dict[str, set[str]] = {}
        for logical_id, resource in resources.items():
            depends_on = resource.get("DependsOn") or []
            explicit = {depends_on} if isinstance(depends_on, str) else set(depends_on)
            deps[logical_id] = (references(resource.get("Properties"), resources) | explicit) - {logical_id}
        ordered: list[str] = []
        done: set[str] = set()
        visiting: set[str] = set()

        def visit(logical_id: str) -> None:
            if logical_id in done or logical_id in visiting:
                return
            visiting.add(logical_id)
            for dependency in sorted(deps.get(logical_id, ())):
                visit(dependency)
            visiting.discard(logical_id)
            done.add(logical_id)
            ordered.append(logical_id)

        for logical_id in resources:
            visit(logical_id)
        return ordered

    # -- creators -----------------------------------------------------------------------------------
    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("TableName") or self.stack.physical_name(logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "TableClass"):
            if key in props:
                request[key] = props[key]
        if request["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in request:
            request["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        if props.get("SSESpecification"):
            request["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        client = self.client("dynamodb")
        try:
            description = client.create_table(**request)["TableDescription"]
        except Exception as error:
            if not _exists(error, "ResourceInUseException"):
                raise
            description = client.describe_table(TableName=name)["Table"]  # an --endpoint emulator that has it
        ttl = props.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):
            try:
                client.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
                )
            except Exception as error:
                if not _exists(error, "ValidationException"):  # "TimeToLive is already enabled"
                    raise
            self.result.ttl_attributes[name] = ttl["AttributeName"]
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        if pitr:
            client.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        self._record(
            logical_id,
            name,
            Arn=description["TableArn"],
            StreamArn=description.get("LatestStreamArn", ""),
        )

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        fifo = bool(props.get("FifoQueue"))
        name = props.get("QueueName") or _fit(self.stack.physical_name(logical_id), 75) + (".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key, value in props.items():
            if key in ("QueueName", "Tags"):
                continue
            if isinstance(value, dict | list):
                attributes[key] = json.dumps(value)
            elif isinstance(value, bool):
                attributes[key] = "true" if value else "false"
            else:
                attributes[key] = str(value)
        client = self.client("sqs")
        try:
            url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except Exception as error:
            if not _exists(error, "QueueAlreadyExists", "QueueNameExists"):
                raise
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
            client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.result.queue_urls[arn] = url
        self._record(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self.stack.physical_name(logical_id)
        if name == "default":
            arn = f"arn:{PARTITION}:events:{self.stack.region}:{self.stack.account_id}:event-bus/default"
        else:
            client = self.client("events")
            try:
                arn = client.create_event_bus(Name=name)["EventBusArn"]
            except Exception as error:
                if not _exists(error, "ResourceAlreadyExistsException"):
                    raise
                arn = client.describe_event_bus(Name=name)["Arn"]
        self._record(logical_id, name, Arn=arn, Name=name)

    def _rule(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or _fit(self.stack.physical_name(logical_id), 64)
        bus = str(props.get("EventBusName") or "default").rsplit("event-bus/", 1)[-1]
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        pattern = props.get("EventPattern")
        if pattern is not None:
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("Description"):
            request["Description"] = props["Description"]
        client = self.client("events")
        arn = client.put_rule(**request)["RuleArn"]
        targets = []
        for target in props.get("Targets") or []:
            service = str(target["Arn"]).split(":")[2]
            if service == "lambda":
                self.result.notes.append(
                    f"{logical_id}: Lambda target {target['Id']} not routed (moto crashes PutEvents on Lambda "
                    "targets); route events through an SQS queue, as in production"
                )
                continue
            if service not in ("sqs", "events", "logs"):
                self.result.notes.append(f"{logical_id}: {service} target {target['Id']} not routed by the emulator")
                continue
            keep = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "SqsParameters", "RetryPolicy")
            targets.append({k: v for k, v in target.items() if k in keep})
            if service == "sqs":
                self.result.queue_targets.setdefault(target["Arn"], []).append(
                    {"rule": logical_id, "Input": target.get("Input"), "InputPath": target.get("InputPath")}
                )
        if targets:
            client.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self._record(logical_id, name, Arn=arn)

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        request: dict[str, Any] = {
            "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "Description": props.get("Description", logical_id),
        }
        if props.get("KeyPolicy"):
            policy = props["KeyPolicy"]
            request["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        client = self.client("kms")
        owner = f"{self.stack.stack_name}/{logical_id}"  # keys have no name: a tag finds ours again
        metadata = self._tagged_key(owner)
        if metadata is None:
            request["Tags"] = [{"TagKey": "devstack:resource", "TagValue": owner}]
            metadata = client.create_key(**request)["KeyMetadata"]
        if props.get("EnableKeyRotation") and request["KeySpec"] == "SYMMETRIC_DEFAULT":
            client.enable_key_rotation(KeyId=metadata["KeyId"])
        self._record(logical_id, metadata["KeyId"], Arn=metadata["Arn"], KeyId=metadata["KeyId"])

    def _tagged_key(self, owner: str) -> dict[str, Any] | None:
        """The key an earlier run created for this resource (only an --endpoint emulator has one)."""
        client = self.client("kms")
        for page in client.get_paginator("list_keys").paginate():
            for key in page["Keys"]:
                tags = client.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
                if {"TagKey": "devstack:resource", "TagValue": owner} in tags:
                    metadata = client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
                    if metadata.get("KeyState") == "Enabled":
                        return metadata
        return None

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        client = self.client("kms")
        try:
            client.create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        except Exception as error:
            if not _exists(error, "AlreadyExistsException"):
                raise
            client.update_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        self._record(logical_id, props["AliasName"])

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("BucketName") or _fit(self.stack.physical_name(logical_id).lower(), 63)
        client = self.client("s3")
        try:
            client.create_bucket(Bucket=name)
        except Exception as error:
            if not _exists(error, "BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if (props.get("VersioningConfiguration") or {}).get("Status"):
            client.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
            )
        encryption = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
        if encryption:
            rules = [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in encryption
                if rule.get("ServerSideEncryptionByDefault")
            ]
            client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        notifications = self._bucket_notifications(logical_id, props.get("NotificationConfiguration") or {})
        if notifications:
            client.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notifications)
        if props.get("LifecycleConfiguration"):
            # Stored as declared, so what a bucket keeps is readable locally; moto never expires objects.
            rules = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"].get("Rules", [])]
            client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
            self.result.notes.append(f"{logical_id}: lifecycle rules are stored but not enforced (moto never expires)")
        self._record(
            logical_id,
            name,
            Arn=f"arn:{PARTITION}:s3:::{name}",
            DomainName=f"{name}.s3.amazonaws.com",
            RegionalDomainName=f"{name}.s3.{self.stack.region}.amazonaws.com",
            WebsiteURL=f"http://{name}.s3-website-{self.stack.region}.amazonaws.com",
        )

    def _bucket_notifications(self, logical_id: str, config: dict[str, Any]) -> dict[str, Any]:
        """CloudFormation's notification shape -> the S3 API's (queues and EventBridge only)."""
        result: dict[str, Any] = {}
        queues = []
        for entry in config.get("QueueConfigurations") or []:
            queue: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                queue["Filter"] = {"Key": {"FilterRules": rules}}
            queues.append(queue)
        if queues:
            result["QueueConfigurations"] = queues
        if "EventBridgeConfiguration" in config:
            result["EventBridgeConfiguration"] = {}
        for other in ("LambdaConfigurations", "TopicConfigurations"):
            if config.get(other):
                self.result.notes.append(f"{logical_id}: {other} not routed locally (route through SQS)")
        return result

    def _ses_identity(self, logical_id: str, props: dict[str, Any]) -> None:
        identity = props["EmailIdentity"]
        client = self.client("ses")
        if "@" in identity:
            client.verify_email_identity(EmailAddress=identity)
        else:
            client.verify_domain_identity(Domain=identity)
        self._record(logical_id, identity)

    def _ses_template(self, logical_id: str, props: dict[str, Any]) -> None:
        # CloudFormation rejects a property it does not know (e.g. a misspelt `HTMLPart`); so does devstack,
        # rather than provision a template that differs from the one AWS would hold.
        template = dict(props.get("Template") or {})
        unknown = [k for k in props if k != "Template"] + [f"Template.{k}" for k in template if k not in SES_TEMPLATE]
        if unknown:
            raise ValueError(f"unsupported property {', '.join(unknown)} (Template holds {', '.join(SES_TEMPLATE)})")
        template.setdefault("TemplateName", self.stack.physical_name(logical_id))  # CloudFormation makes one up
        client = self.client("ses")
        try:
            client.create_template(Template=template)
        except Exception as error:
            if not _exists(error, "AlreadyExists", "AlreadyExistsException"):
                raise
            client.update_template(Template=template)
        self._record(logical_id, template["TemplateName"], Id=template["TemplateName"])  # Ref: the name, as in AWS

    def _ses_configuration_set(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self.stack.physical_name(logical_id)
        try:
            self.client("ses").create_configuration_set(ConfigurationSet={"Name": name})
        except Exception as error:
            if not _exists(error, "ConfigurationSetAlreadyExists", "ConfigurationSetAlreadyExistsException"):
                raise
        self._record(logical_id, name)

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or self.stack.physical_name(logical_id)
        client = self.client("logs")
        try:
            client.create_log_group(logGroupName=name)
        except Exception as error:
            if not _exists(error, "ResourceAlreadyExistsException"):
                raise
        if props.get("RetentionInDays"):
            client.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        arn = f"arn:{PARTITION}:logs:{self.stack.region}:{self.stack.account_id}:log-group:{name}:*"
        self._record(logical_id, name, Arn=arn)

    def _ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self.stack.physical_name(logical_id)
        self.client("ssm").put_parameter(
            Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Overwrite=True
        )
        self._record(logical_id, name, Type=props.get("Type", "String"), Value=str(props["Value"]))


def _exists(error: Exception, *codes: str) -> bool:
    """Whether `error` is the emulator saying the resource is already there (re-provisioning an
    `--endpoint` emulator that outlived an earlier devstack)."""
    code = (getattr(error, "response", None) or {}).get("Error", {}).get("Code")
    return code in codes


def _fit(name: str, limit: int) -> str:
    """`name` cut to `limit` characters, keeping it unique with a short hash when it is cut."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _short_id(seed: str) -> str:
    """A stable 10-character id like the ones AWS mints (API ids, role ids)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:10]


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule in the S3 API's shape (the parts the template uses)."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled"),
                           "Filter": {"Prefix": rule.get("Prefix", "")}}  # fmt: skip
    if rule.get("ExpirationInDays") is not None:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if rule.get("NoncurrentVersionExpiration"):
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    return out
