"""Deploys template.yaml, translated to plain CloudFormation, as a stack in the emulator's CloudFormation.

    .local/venv/bin/python scripts/deploy_template_to_moto.py [--template template.yaml]
        [--translated FILE] [--stack-name careflow-deploy-check] [--without-kms] [--keep]

It talks to the emulator at AWS_ENDPOINT_URL (it refuses to run without one, or against AWS) with
boto3's default credential chain and region, so it works against a moto that enforces IAM when the
environment holds admin credentials. Steps:

1. translate the SAM template with aws-sam-translator (scripts/sam_translate.py, run by the SAM
   venv's python, CAREFLOW_SAM_PYTHON), as `sam deploy` would;
2. create what the parameters point at (Secrets Manager secrets under a customer-managed KMS key, a
   VPC with two private subnets and a security group, the packaged code object the functions' Code
   names) and give every parameter a realistic value, checked against its AllowedPattern /
   AllowedValues / Min / Max (and subnet / security-group ids against EC2) as CloudFormation would;
3. take out the resources of the types moto's CloudFormation cannot create (SKIPPED_TYPES: each
   with the reason and how it is checked instead) and rewrite what references them: a stand-in
   created through the service's own API where one exists (the HTTP API); any other reference is
   an error, so nothing is dropped silently. A type that is neither created by moto nor listed
   fails the run;
4. create the stack from an S3 TemplateURL (the translated template is over CloudFormation's
   51,200-byte TemplateBody limit, so `sam deploy` uploads it too) and wait for CREATE_COMPLETE.
   Extra outputs ("probes", Fn::ToJsonString of each resource's properties) make the emulator
   resolve every resource's properties with the stack's parameters and physical ids; the script
   then checks every resource and every output against them, and checks each skipped resource the
   other way its entry names (applied through the service's API, and its wiring: targets are
   resources of the stack and the roles and resource policies allow what AWS requires);
5. delete the stack, check that resources with DeletionPolicy Retain survived it and the others did
   not, and remove everything it created.

What moto's CloudFormation accepts but does not apply is listed explicitly too
(MOTO_IGNORED_PROPERTIES, MOTO_WITHOUT_PHYSICAL_ID, MOTO_KEEPS_ON_DELETE) and shown in the summary.
It exits 1 listing every failed check, 2 on a usage or set-up error.
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import fnmatch
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

ROOT = Path(__file__).resolve().parent.parent
# The SAM venv's python (scripts/lib/stack.sh's careflow_sam_venv exports it).
SAM_PYTHON = Path(os.environ.get("CAREFLOW_SAM_PYTHON") or ROOT / ".local" / "sam-venv" / "bin" / "python")
PROBE_PREFIX = "ZzDeployCheckProbe"


# ------------------------------------------------------------------------------------------------
# The resource types moto's CloudFormation cannot create, and how each is checked instead.
# A type that is not listed here and not created by moto fails the run ("no physical id"); a
# listed type that moto learns to create should be taken off the list.
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    reason: str
    checked_by: str
    # Only resources of the type that this predicate accepts are skipped (default: all of them).
    applies: Callable[[dict[str, Any]], bool] = lambda _properties: True


SKIPPED_TYPES: dict[str, Skip] = {
    "AWS::ApiGatewayV2::Api": Skip(
        reason="moto's CloudFormation has no model for it (not in moto.cloudformation.parsing's model map)",
        checked_by=(
            "created before the stack through moto's ApiGatewayV2 API (its id stands in for the Ref); "
            "after the stack, the translated OpenAPI body, resolved against the stack, is applied to it: "
            "CORS object, JWT authorizer (issuer/audience = the parameters), one route and AWS_PROXY "
            "integration per path and method whose target is a function of the stack, each route covered "
            "by a Lambda permission of the stack; routes/auth also by the runner's contract tests and cfn-lint"
        ),
    ),
    "AWS::ApiGatewayV2::Stage": Skip(
        reason="moto's CloudFormation has no model for it",
        checked_by=(
            "created through moto's ApiGatewayV2 API on the stand-in API from its resolved properties; "
            "RouteSettings keys must be routes of the API, the access log destination a log group of the "
            "stack, the format must contain $context.requestId"
        ),
    ),
    "AWS::Lambda::EventInvokeConfig": Skip(
        reason="moto's CloudFormation has no model for it",
        checked_by=(
            "applied with lambda:PutFunctionEventInvokeConfig (moto validates the retry/age limits) "
            "to the stack's function and read back"
        ),
    ),
    "AWS::S3::BucketPolicy": Skip(
        reason="moto's CloudFormation has no model for it",
        checked_by=(
            "resolved and applied with s3:PutBucketPolicy to the stack's bucket and read back; every "
            "statement's resources must be that bucket or its objects"
        ),
    ),
    "AWS::Lambda::EventSourceMapping": Skip(
        reason=(
            "moto models event source mappings only for DynamoDB, Kinesis and SQS sources "
            "(EventSourceArn required); these are self-managed Kafka (Confluent Cloud)"
        ),
        checked_by=(
            "resolved against the stack: the function, the on-failure SQS queue and the SASL secret exist, "
            "the function's role (as created in IAM) may read the secret and send to the queue, limits "
            "are within Lambda's; delivery itself by the runner's Kafka event-source tests"
        ),
        applies=lambda properties: "SelfManagedEventSource" in properties,
    ),
}


# What moto's CloudFormation accepts but does not apply: the property is dropped by its model (or,
# for SSESpecification, read with the API's key names instead of CloudFormation's). These are not
# compared with the emulator; the summary lists them. Where the property wires resources together
# (dead-letter queue, log group, S3 notification), the wiring is still checked from the resolved
# template: the target is a resource of the stack and the permissions it needs are there.
MOTO_IGNORED_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::Lambda::Function": ("Architectures", "TracingConfig", "DeadLetterConfig", "LoggingConfig", "Tags"),
    "AWS::IAM::Role": ("ManagedPolicyArns",),
    "AWS::Logs::LogGroup": ("KmsKeyId",),
    "AWS::DynamoDB::Table": ("SSESpecification", "PointInTimeRecoverySpecification"),
    "AWS::S3::Bucket": (
        "VersioningConfiguration",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "CorsConfiguration",
        "LifecycleConfiguration",
        "NotificationConfiguration",
    ),
}

# Types moto's CloudFormation does not delete with the stack; removed by this script (noted).
MOTO_KEEPS_ON_DELETE: dict[str, str] = {
    "AWS::IAM::ManagedPolicy": "moto's ManagedPolicy model has no delete_from_cloudformation_json",
}

# Types moto creates without recording a physical id in the stack; each is looked up in its
# service instead (a permission: its statement in the function's resource policy).
MOTO_WITHOUT_PHYSICAL_ID: dict[str, str] = {
    "AWS::Lambda::Permission": "moto adds the statement to the function's policy but keeps no physical id",
}


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


class SetupError(Exception):
    """The run could not get as far as checking (exit 2)."""


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    substitutions: list[str] = field(default_factory=list)
    checks: int = 0

    def check(self, ok: bool, message: str) -> bool:
        self.checks += 1
        if not ok:
            self.failures.append(message)
        return ok

    def equal(self, where: str, actual: Any, expected: Any) -> bool:
        return self.check(actual == expected, f"{where}: emulator has {actual!r}, template says {expected!r}")


def log(message: str) -> None:
    print(f"[deploy-check] {message}", flush=True)


def unresolved(value: Any) -> list[str]:
    """Intrinsic-function leftovers in a value the emulator resolved."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" or key.startswith("Fn::"):
                found.append(json.dumps({key: inner})[:120])
            else:
                found.extend(unresolved(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(unresolved(inner))
    elif isinstance(value, str) and re.search(r"\$\{[^!]", value):
        found.append(value[:120])
    return found


SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class NoStandIn(Exception):
    pass


def substitute(node: Any, standins: dict[str, dict[str, str]], skipped: set[str], where: str, report: Report) -> Any:
    """Replaces references to skipped resources by their stand-ins' values; NoStandIn if there is none."""

    def value_for(target: str, attribute: str) -> str:
        values = standins.get(target)
        if values is None or attribute not in values:
            raise NoStandIn(f"{where} uses {target}{'.' + attribute if attribute != 'Ref' else ''}")
        report.substitutions.append(
            f"{where}: {'Ref ' + target if attribute == 'Ref' else 'GetAtt ' + target + '.' + attribute}"
            f" -> {values[attribute]} (stand-in)"
        )
        return values[attribute]

    if isinstance(node, list):
        return [substitute(inner, standins, skipped, where, report) for inner in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and "Ref" in node and node["Ref"] in skipped:
        return value_for(node["Ref"], "Ref")
    if len(node) == 1 and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        name, attribute = target.split(".", 1) if isinstance(target, str) else target
        if name in skipped:
            return value_for(name, attribute)
        return node
    if len(node) == 1 and "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text, local = (sub, None) if isinstance(sub, str) else (sub[0], sub[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            head, _, attribute = name.partition(".")
            if (local and head in local) or head not in skipped:
                return match.group(0)
            return value_for(head, attribute or "Ref")

        text = SUB_VARIABLE.sub(replace, text)
        if local is None:
            return {"Fn::Sub": text}
        return {"Fn::Sub": [text, substitute(local, standins, skipped, where, report)]}
    return {key: substitute(inner, standins, skipped, where, report) for key, inner in node.items()}


def without_novalue(value: Any) -> Any:
    """AWS::NoValue removes a list element; moto's resolver leaves a None (null) in its place."""
    if isinstance(value, dict):
        return {k: without_novalue(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_novalue(v) for v in value if v is not None]
    return value


def policy_allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an Allow statement of these identity policies matches (no Deny/conditions in them)."""
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            resources = statement.get("Resource", [])
            actions = actions if isinstance(actions, list) else [actions]
            resources = resources if isinstance(resources, list) else [resources]
            if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
                fnmatch.fnmatchcase(resource, r) for r in resources
            ):
                return True
    return False


def as_document(value: Any) -> Any:
    """A policy document as IAM returns it (URL-encoded JSON; moto's CloudFormation stores a Python repr)."""
    if isinstance(value, str):
        text = unquote(value)
        try:
            return json.loads(text)
        except ValueError:
            return ast.literal_eval(text)
    return value


def normalise(document: Any) -> Any:
    """A policy document with single values and one-element lists made comparable."""
    if isinstance(document, dict):
        return {k: normalise(v) for k, v in document.items()}
    if isinstance(document, list):
        items = [normalise(v) for v in document]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    return document


def tags_of(properties: dict[str, Any]) -> dict[str, str]:
    tags = properties.get("Tags") or {}
    if isinstance(tags, list):
        return {t["Key"]: str(t["Value"]) for t in tags}
    return {k: str(v) for k, v in tags.items()}


def sign_payload_hash(request: Any, **_: Any) -> None:
    """Sends the payload's SHA-256 as x-amz-content-sha256, so that it is part of the signature.

    moto (5.2.5), enforcing IAM, recomputes the signature of a request that has neither a query
    string nor a body (a GET or DELETE of Lambda or ApiGatewayV2) over its headers as if they were
    the body, and answers SignatureDoesNotMatch. SigV4 takes the payload hash from this header when
    it is signed, so both sides then agree; AWS accepts the header on every service.
    """
    body = request.body or b""
    if hasattr(body, "read"):
        return
    if isinstance(body, str):
        body = body.encode()
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()


def code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, "#!/bin/sh\necho 'deploy check placeholder'\n")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


class DeployCheck:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stack_name: str = args.stack_name
        # botocore reads AWS_DEFAULT_REGION; the AWS SDK for Rust (and stack.sh) also set AWS_REGION.
        session = boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
        if not session.region_name:
            raise SetupError("no AWS region in the environment (set AWS_REGION or AWS_DEFAULT_REGION)")
        if session.get_credentials() is None:
            raise SetupError("no AWS credentials in the environment")
        self.region: str = session.region_name
        session.events.register("before-sign", sign_payload_hash)
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        self.client = lambda service: session.client(service, config=config)  # noqa: E731
        self.cfn = self.client("cloudformation")
        self.s3 = self.client("s3")
        self.ec2 = self.client("ec2")
        self.sm = self.client("secretsmanager")
        self.iam = self.client("iam")
        self.lam = self.client("lambda")
        self.ddb = self.client("dynamodb")
        self.sqs = self.client("sqs")
        self.logs = self.client("logs")
        self.events = self.client("events")
        self.apigw = self.client("apigatewayv2")
        self.account = self.client("sts").get_caller_identity()["Account"]
        self.report = Report()
        self.cleanups: list[tuple[str, Callable[[], Any]]] = []
        self.template: dict[str, Any] = {}
        self.kept: dict[str, dict[str, Any]] = {}
        self.skipped: dict[str, dict[str, Any]] = {}
        self.parameters: dict[str, str] = {}
        self.physical: dict[str, str] = {}
        self.resolved: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, str] = {}
        self.dropped_outputs: list[str] = []
        self.conditioned_out: list[str] = []
        self.conditioned_outputs: list[str] = []
        self.created = 0
        self.stack_deleted = False
        self.standins: dict[str, dict[str, str]] = {}
        self.api_id = ""
        self.api_routes: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, float] = {}

    # -------------------------------------------------------------------------------- translate
    def translate(self) -> None:
        if self.args.translated:
            self.template = json.loads(Path(self.args.translated).read_text())
            return
        if not SAM_PYTHON.exists():
            raise SetupError(f"{SAM_PYTHON} missing (the SAM venv; see scripts/requirements-sam.txt)")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "translated.json"
            done = subprocess.run(
                [
                    str(SAM_PYTHON),
                    str(ROOT / "scripts" / "sam_translate.py"),
                    str(self.args.template),
                    "--out",
                    str(out),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "AWS_DEFAULT_REGION": self.region},
            )
            if done.returncode != 0:
                raise SetupError(f"sam_translate.py failed:\n{done.stderr.strip()}")
            self.template = json.loads(out.read_text())

    # -------------------------------------------------------------------------------- fixtures
    def create_fixtures(self) -> dict[str, str]:
        """What the parameters point at, created in the emulator as an operator would beforehand."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.public_key().public_numbers()

        def b64(n: int) -> str:
            return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

        kid = "deploy-check-1"
        jwks = {
            "keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": b64(numbers.n), "e": b64(numbers.e)}]
        }
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

        # A customer-managed key for the optional *KmsKeyArn parameters (as Terraform's kms module
        # provides), so the template's HasLogsKmsKey / HasSecretsKmsKey branches are deployed too.
        kms = self.client("kms")
        kms_key = ""
        if not self.args.without_kms:
            metadata = kms.create_key(Description=f"CareFlow dev ({self.stack_name})")["KeyMetadata"]
            kms_key = metadata["Arn"]
            self.cleanups.append(
                (
                    f"kms key {kms_key}",
                    lambda: kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7),
                )
            )

        def secret(name: str, value: dict[str, str]) -> str:
            full = f"careflow/dev/{self.stack_name}/{name}"
            extra = {"KmsKeyId": kms_key} if kms_key else {}
            try:
                arn = self.sm.create_secret(Name=full, SecretString=json.dumps(value), **extra)["ARN"]
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceExistsException":
                    raise
                arn = self.sm.describe_secret(SecretId=full)["ARN"]
                self.sm.put_secret_value(SecretId=arn, SecretString=json.dumps(value))
            self.cleanups.append(
                (f"secret {full}", lambda: self.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True))
            )
            return arn

        signing = secret("jwt-signing-key", {"kid": kid, "private_key_pem": pem})
        database = secret("database", {"username": "careflow", "password": "deploy-check-not-a-real-password"})
        kafka = secret("kafka-sasl", {"username": "DEPLOYCHECKKEY", "password": "deploy-check-api-secret"})

        vpc = self.ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        self.cleanups.append((f"vpc {vpc}", lambda: self.ec2.delete_vpc(VpcId=vpc)))
        self.ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": self.stack_name}])
        zones = [z["ZoneName"] for z in self.ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        subnets = []
        for index, zone in enumerate(zones):
            subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24", AvailabilityZone=zone)[
                "Subnet"
            ]["SubnetId"]
            subnets.append(subnet)
            self.cleanups.append((f"subnet {subnet}", lambda s=subnet: self.ec2.delete_subnet(SubnetId=s)))
        group = self.ec2.create_security_group(
            GroupName=f"{self.stack_name}-functions", Description="CareFlow functions (deploy check)", VpcId=vpc
        )["GroupId"]
        self.cleanups.append((f"security group {group}", lambda: self.ec2.delete_security_group(GroupId=group)))

        # The packaged code every function's Code names (as `sam package` would have uploaded it).
        for bucket, key_name in sorted(
            {
                (r["Properties"]["Code"]["S3Bucket"], r["Properties"]["Code"]["S3Key"])
                for r in self.template["Resources"].values()
                if r["Type"] == "AWS::Lambda::Function" and "S3Bucket" in r["Properties"].get("Code", {})
            }
        ):
            self.ensure_bucket(bucket)
            self.s3.put_object(Bucket=bucket, Key=key_name, Body=code_zip())
            self.cleanups.append(
                (f"s3://{bucket}/{key_name}", lambda b=bucket, k=key_name: self.s3.delete_object(Bucket=b, Key=k))
            )
        self.artifacts_bucket = next(
            (
                r["Properties"]["Code"]["S3Bucket"]
                for r in self.template["Resources"].values()
                if r["Type"] == "AWS::Lambda::Function"
            ),
            f"{self.stack_name}-artifacts",
        )
        self.ensure_bucket(self.artifacts_bucket)

        optional = {"LogsKmsKeyArn": kms_key, "SecretsKmsKeyArn": kms_key} if kms_key else {}
        return {
            **{k: v for k, v in optional.items() if k in self.template.get("Parameters", {})},
            "Stage": "dev",
            "JwtIssuer": "https://api.dev.careflow.example",
            "JwtAudience": "careflow-api",
            "JwtPublicJwks": json.dumps(jwks, separators=(",", ":")),
            "SigningKeySecretArn": signing,
            "DatabaseUrl": "postgres://careflow@careflow-dev.proxy-c0ffee.us-east-1.rds.amazonaws.com:5432/careflow?sslmode=verify-full",
            "DatabaseSecretArn": database,
            "SubnetIds": ",".join(subnets),
            "SecurityGroupIds": group,
            "CorsAllowedOrigins": "https://portal.dev.careflow.example,https://admin.dev.careflow.example",
            "KafkaBootstrapServers": "pkc-deploy.us-east-1.aws.confluent.cloud:9092",
            "KafkaCredentialsSecretArn": kafka,
        }

    def ensure_bucket(self, bucket: str) -> None:
        try:
            self.s3.head_bucket(Bucket=bucket)
            return
        except ClientError:
            pass
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.s3.create_bucket(**kwargs)
        self.cleanups.append((f"bucket {bucket}", lambda: self.s3.delete_bucket(Bucket=bucket)))

    def choose_parameters(self, supplied: dict[str, str]) -> None:
        """Every parameter without a default gets a value; each value must pass its constraints."""
        problems = []
        for name, spec in self.template.get("Parameters", {}).items():
            if name in supplied:
                value = supplied[name]
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                problems.append(f"parameter {name} has no default and this script supplies no value for it")
                continue
            kind = spec.get("Type", "String")
            items = value.split(",") if kind == "CommaDelimitedList" or kind.startswith("List<") else [value]
            for item in items:
                if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
                    problems.append(f"parameter {name}={item!r} does not match AllowedPattern {spec['AllowedPattern']}")
                if "AllowedValues" in spec and item not in [str(v) for v in spec["AllowedValues"]]:
                    problems.append(f"parameter {name}={item!r} is not one of {spec['AllowedValues']}")
                if (
                    "MinLength" in spec
                    and len(item) < int(spec["MinLength"])
                    or "MaxLength" in spec
                    and len(item) > int(spec["MaxLength"])
                ):
                    problems.append(f"parameter {name} has the wrong length")
                if kind == "Number" or kind == "List<Number>":
                    number = float(item)
                    if (
                        "MinValue" in spec
                        and number < float(spec["MinValue"])
                        or "MaxValue" in spec
                        and number > float(spec["MaxValue"])
                    ):
                        problems.append(
                            f"parameter {name}={item} is out of [{spec.get('MinValue')}, {spec.get('MaxValue')}]"
                        )
            if kind == "List<AWS::EC2::Subnet::Id>":
                found = {s["SubnetId"] for s in self.ec2.describe_subnets(SubnetIds=items)["Subnets"]}
                if found != set(items):
                    problems.append(f"parameter {name}: subnets {set(items) - found} do not exist")
            if kind == "List<AWS::EC2::SecurityGroup::Id>":
                found = {g["GroupId"] for g in self.ec2.describe_security_groups(GroupIds=items)["SecurityGroups"]}
                if found != set(items):
                    problems.append(f"parameter {name}: security groups {set(items) - found} do not exist")
            if name in supplied:
                self.parameters[name] = value
        unknown = set(supplied) - set(self.template.get("Parameters", {}))
        if unknown:
            problems.append(f"values for parameters the template no longer has: {sorted(unknown)}")
        if problems:
            raise SetupError("parameter values:\n  " + "\n  ".join(problems))

    # -------------------------------------------------------------------------------- plan
    def plan(self) -> dict[str, Any]:
        """The deployable copy: skipped resources out, their references rewritten or refused."""
        resources = self.template["Resources"]
        for logical_id, resource in resources.items():
            skip = SKIPPED_TYPES.get(resource["Type"])
            if skip and skip.applies(resource.get("Properties", {})):
                self.skipped[logical_id] = resource
            else:
                self.kept[logical_id] = resource
        skipped_ids = set(self.skipped)

        # Stand-ins that exist before the stack: the HTTP API, created through its own API.
        standins: dict[str, dict[str, str]] = {}
        for logical_id, resource in self.skipped.items():
            if resource["Type"] == "AWS::ApiGatewayV2::Api":
                api = self.apigw.create_api(Name=self.stack_name, ProtocolType="HTTP")
                self.cleanups.append(
                    (f"http api {api['ApiId']}", lambda a=api["ApiId"]: self.apigw.delete_api(ApiId=a))
                )
                self.api_id = api["ApiId"]
                standins[logical_id] = {"Ref": api["ApiId"], "ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]}
        self.standins = standins

        deployable = copy.deepcopy({k: v for k, v in self.template.items() if k not in ("Resources", "Outputs")})
        deployable["Resources"] = {}
        problems = []
        for logical_id, resource in self.kept.items():
            resource = copy.deepcopy(resource)
            depends = resource.get("DependsOn")
            if depends:
                depends = [depends] if isinstance(depends, str) else depends
                kept_depends = [d for d in depends if d not in skipped_ids]
                for dropped in set(depends) - set(kept_depends):
                    self.report.substitutions.append(f"{logical_id}: DependsOn {dropped} removed (skipped)")
                if kept_depends:
                    resource["DependsOn"] = kept_depends
                else:
                    del resource["DependsOn"]
            try:
                resource["Properties"] = substitute(
                    resource.get("Properties", {}), standins, skipped_ids, logical_id, self.report
                )
            except NoStandIn as missing:
                problems.append(
                    f"{missing} - {logical_id} ({resource['Type']}) needs a skipped resource that has no stand-in; "
                    "give that type a stand-in in plan() or check it another way"
                )
            deployable["Resources"][logical_id] = resource
        if problems:
            raise SetupError("\n  ".join(["cannot deploy without the skipped resources:", *problems]))

        deployable["Outputs"] = {}
        for name, output in self.template.get("Outputs", {}).items():
            try:
                deployable["Outputs"][name] = substitute(output, standins, skipped_ids, f"Outputs.{name}", self.report)
            except NoStandIn as missing:
                self.dropped_outputs.append(f"{name} ({missing})")

        # Probes: the emulator resolves the properties of every resource this script checks (the
        # skipped ones included) into outputs, with the same parameters and physical ids.
        for logical_id, resource in {**self.kept, **self.skipped}.items():
            try:
                properties = substitute(resource.get("Properties", {}), standins, skipped_ids, logical_id, Report())
            except NoStandIn as missing:
                raise SetupError(
                    f"{missing}: a skipped resource needs another skipped resource that has no stand-in"
                ) from None
            probe: dict[str, Any] = {"Value": {"Fn::ToJsonString": properties}}
            if "Condition" in resource:
                probe["Condition"] = resource["Condition"]
            deployable["Outputs"][PROBE_PREFIX + logical_id] = probe
        return deployable

    # -------------------------------------------------------------------------------- deploy
    def leftovers(self) -> None:
        """A stack of this name from a killed run: delete it and what it retained."""
        try:
            stack = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        except ClientError:
            return
        if stack["StackStatus"] == "DELETE_COMPLETE":
            return
        log(f"deleting stack {self.stack_name} left by an earlier run")
        retained = self.cfn.describe_stack_resources(StackName=self.stack_name)["StackResources"]
        self.cfn.delete_stack(StackName=self.stack_name)
        for resource in retained:
            if resource.get("ResourceType") and resource.get("PhysicalResourceId"):
                self.delete_retained(resource["ResourceType"], resource["PhysicalResourceId"])

    def delete_retained(self, resource_type: str, physical_id: str) -> None:
        """Deletes what deleting the stack leaves behind: DeletionPolicy Retain, moto's gaps."""
        try:
            if resource_type in MOTO_KEEPS_ON_DELETE:
                self.iam.delete_policy(PolicyArn=physical_id)
            elif resource_type == "AWS::DynamoDB::Table":
                self.ddb.delete_table(TableName=physical_id)
            elif resource_type == "AWS::S3::Bucket":
                try:
                    self.s3.delete_bucket_policy(Bucket=physical_id)
                except ClientError:
                    pass
                versions = self.s3.list_object_versions(Bucket=physical_id)
                for version in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
                    self.s3.delete_object(Bucket=physical_id, Key=version["Key"], VersionId=version["VersionId"])
                self.s3.delete_bucket(Bucket=physical_id)
        except ClientError as error:
            if error.response["Error"]["Code"] not in (
                "ResourceNotFoundException",
                "NoSuchBucket",
                "NoSuchEntity",
                "404",
            ):
                raise

    def deploy(self, deployable: dict[str, Any]) -> None:
        body = json.dumps(deployable, separators=(",", ":"))
        key = f"templates/{self.stack_name}.json"
        self.s3.put_object(Bucket=self.artifacts_bucket, Key=key, Body=body.encode())
        self.cleanups.append(
            (
                f"s3://{self.artifacts_bucket}/{key}",
                lambda: self.s3.delete_object(Bucket=self.artifacts_bucket, Key=key),
            )
        )
        url = f"https://{self.artifacts_bucket}.s3.{self.region}.amazonaws.com/{key}"
        self.cleanups.append((f"stack {self.stack_name}", self.delete_stack_quietly))
        try:
            self.cfn.create_stack(
                StackName=self.stack_name,
                TemplateURL=url,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
                Tags=[{"Key": "project", "Value": "careflow"}],
            )
            self.cfn.get_waiter("stack_create_complete").wait(
                StackName=self.stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except (ClientError, WaiterError) as error:
            raise SetupError(f"create_stack failed: {error}\n{self.stack_events()}") from error

    def stack_events(self) -> str:
        try:
            events = self.cfn.describe_stack_events(StackName=self.stack_name)["StackEvents"]
        except ClientError:
            return "(no stack events; see the moto log)"
        failed = [e for e in events if "FAILED" in e.get("ResourceStatus", "")]
        return (
            "\n".join(
                f"  {e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}" for e in failed
            )
            or "(no failed resources in the stack events; see the moto log)"
        )

    def delete_stack_quietly(self) -> None:
        """After a failure: the stack and what it retained (DeletionPolicy Retain) go too."""
        if self.stack_deleted:
            return
        try:
            resources = self.cfn.describe_stack_resources(StackName=self.stack_name)["StackResources"]
        except ClientError:
            resources = []
        try:
            self.cfn.delete_stack(StackName=self.stack_name)
        except ClientError:
            pass
        for resource in resources:
            if resource.get("ResourceType") and resource.get("PhysicalResourceId"):
                self.delete_retained(resource["ResourceType"], resource["PhysicalResourceId"])

    # -------------------------------------------------------------------------------- check
    def collect(self) -> None:
        resources = self.cfn.describe_stack_resources(StackName=self.stack_name)["StackResources"]
        nameless = [r for r in resources if "LogicalResourceId" not in r]
        if nameless:
            self.note(
                f"moto lists {len(nameless)} stack resource(s) without a logical id or type (a false condition's; ignored)"
            )
        by_id = {r["LogicalResourceId"]: r for r in resources if "LogicalResourceId" in r}

        stack = self.cfn.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        for output in stack.get("Outputs", []):
            key, value = output["OutputKey"], output.get("OutputValue", "")
            if key.startswith(PROBE_PREFIX):
                logical_id = key[len(PROBE_PREFIX) :]
                try:
                    self.resolved[logical_id] = without_novalue(json.loads(value))
                except ValueError:
                    self.report.check(False, f"the properties of {logical_id} did not resolve to JSON: {value[:200]}")
                    continue
                left = unresolved(self.resolved[logical_id])
                self.report.check(not left, f"{logical_id}: references the emulator could not resolve: {left}")
            else:
                self.outputs[key] = value

        for logical_id, resource in self.kept.items():
            found = by_id.get(logical_id)
            if "Condition" in resource and logical_id not in self.resolved:
                # Its condition is false (the probe output carries the same condition).
                self.conditioned_out.append(logical_id)
                self.report.check(
                    found is None, f"{logical_id} was created although its condition {resource['Condition']} is false"
                )
                continue
            if resource["Type"] in MOTO_WITHOUT_PHYSICAL_ID:
                if self.report.check(found is not None, f"{logical_id} ({resource['Type']}) is not in the stack"):
                    self.created += 1
                continue
            ok = self.report.check(
                bool(found and found.get("PhysicalResourceId") and found.get("ResourceStatus") == "CREATE_COMPLETE"),
                f"{logical_id} ({resource['Type']}) has no physical id in the stack: if moto's CloudFormation "
                "cannot create this type, add it to SKIPPED_TYPES with the reason and how it is checked instead",
            )
            if ok:
                self.physical[logical_id] = found["PhysicalResourceId"]
                self.created += 1
        extra = set(by_id) - set(self.kept)
        self.report.check(not extra, f"the stack has resources the template does not: {sorted(extra)}")

    def check_outputs(self) -> None:
        for name, output in self.template.get("Outputs", {}).items():
            if any(d.startswith(name + " ") for d in self.dropped_outputs):
                continue
            value = self.outputs.get(name)
            if value is None and "Condition" in output:
                # Absent is right only when its condition is false here, as the resources under
                # the same condition show (they were left out of the stack).
                self.report.check(
                    any(
                        self.template["Resources"][r].get("Condition") == output["Condition"]
                        for r in self.conditioned_out
                    ),
                    f"output {name} is missing although no resource under its condition {output['Condition']} "
                    "was left out",
                )
                self.conditioned_outputs.append(name)
                continue
            if not self.report.check(value is not None and value.strip() != "", f"output {name} has no value"):
                continue
            self.report.check(
                not unresolved(value) and "Fn::" not in value and not re.search(r"\bNone\b|\{'", value),
                f"output {name} is not fully resolved: {value!r}",
            )
            template_value = output["Value"]
            if isinstance(template_value, dict) and "Ref" in template_value:
                target = template_value["Ref"]
                if target in self.physical:
                    self.report.equal(f"output {name}", value, self.physical[target])
                elif target in self.standins:
                    self.report.equal(f"output {name}", value, self.standins[target]["Ref"])
            if isinstance(template_value, dict) and "Fn::GetAtt" in template_value:
                target, attribute = template_value["Fn::GetAtt"]
                if self.kept.get(target, {}).get("Type") == "AWS::Lambda::Function" and attribute == "Arn":
                    arn = self.lam.get_function_configuration(FunctionName=self.physical[target])["FunctionArn"]
                    self.report.equal(f"output {name}", value, arn)

    def check_kept(self) -> None:
        checkers = {
            "AWS::Lambda::Function": self.check_function,
            "AWS::IAM::Role": self.check_role,
            "AWS::DynamoDB::Table": self.check_table,
            "AWS::S3::Bucket": self.check_bucket,
            "AWS::SQS::Queue": self.check_queue,
            "AWS::Logs::LogGroup": self.check_log_group,
            "AWS::Lambda::Permission": self.check_permission,
            "AWS::Events::Rule": self.check_rule,
            "AWS::IAM::ManagedPolicy": self.check_managed_policy,
        }
        self.presence_only = sorted({r["Type"] for r in self.kept.values() if r["Type"] not in checkers})
        for logical_id, resource in self.kept.items():
            checker = checkers.get(resource["Type"])
            has_physical = logical_id in self.physical or resource["Type"] in MOTO_WITHOUT_PHYSICAL_ID
            if checker and has_physical and logical_id in self.resolved:
                try:
                    checker(logical_id, self.physical.get(logical_id, ""), self.resolved[logical_id])
                except ClientError as error:
                    self.report.check(False, f"{logical_id} ({resource['Type']}): {error}")

    def stack_ids(self, resource_type: str) -> dict[str, str]:
        """Physical id -> logical id of the stack's resources of one type."""
        return {self.physical[k]: k for k, r in self.kept.items() if r["Type"] == resource_type and k in self.physical}

    def check_function(self, logical_id: str, name: str, p: dict[str, Any]) -> None:
        c = self.lam.get_function_configuration(FunctionName=name)
        where = f"{logical_id} (function {name})"
        self.report.equal(f"{where} FunctionName", c["FunctionName"], p["FunctionName"])
        for key in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description"):
            if key in p:
                self.report.equal(f"{where} {key}", c.get(key), p[key])
        # CloudFormation passes a Number parameter as a string; moto's resolver keeps the number.
        self.report.equal(
            f"{where} Environment",
            {k: str(v) for k, v in c.get("Environment", {}).get("Variables", {}).items()},
            {k: str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()},
        )
        if "VpcConfig" in p:
            vpc = c.get("VpcConfig", {})
            for key in ("SubnetIds", "SecurityGroupIds"):
                self.report.equal(f"{where} VpcConfig.{key}", sorted(vpc.get(key, [])), sorted(p["VpcConfig"][key]))
        # The role it runs as, and the wiring of the properties moto does not apply.
        role = self.iam.get_role(RoleName=c["Role"].rsplit("/", 1)[-1])["Role"]
        log_group = p.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            self.report.check(
                log_group in self.stack_ids("AWS::Logs::LogGroup"),
                f"{where}: LoggingConfig.LogGroup {log_group} is not a log group of the stack",
            )
        dead_letter = p.get("DeadLetterConfig", {}).get("TargetArn")
        if dead_letter:
            # Lambda refuses a dead-letter queue the execution role cannot send to.
            action = "sqs:SendMessage" if ":sqs:" in dead_letter else "sns:Publish"
            self.report.check(
                dead_letter in self.queue_arns() or ":sns:" in dead_letter,
                f"{where}: dead-letter target {dead_letter} is not a queue of the stack",
            )
            self.report.check(
                policy_allows(self.role_documents(role["Arn"]), action, dead_letter),
                f"{where}: its role may not {action} to its dead-letter target {dead_letter} (Lambda refuses the function)",
            )

    def check_role(self, logical_id: str, name: str, p: dict[str, Any]) -> None:
        role = self.iam.get_role(RoleName=name)["Role"]
        where = f"{logical_id} (role {name})"
        self.report.equal(
            f"{where} AssumeRolePolicyDocument",
            normalise(as_document(role["AssumeRolePolicyDocument"])),
            normalise(p["AssumeRolePolicyDocument"]),
        )
        raw = {
            n: self.iam.get_role_policy(RoleName=name, PolicyName=n)["PolicyDocument"]
            for n in self.iam.list_role_policies(RoleName=name)["PolicyNames"]
        }
        expected = {policy["PolicyName"]: policy["PolicyDocument"] for policy in p.get("Policies", [])}
        self.report.equal(f"{where} inline policy names", sorted(raw), sorted(expected))
        for policy_name, document in expected.items():
            if policy_name in raw:
                self.report.equal(
                    f"{where} policy {policy_name}", normalise(as_document(raw[policy_name])), normalise(document)
                )
        for document in raw.values():
            if isinstance(document, str):
                try:
                    json.loads(unquote(document))
                except ValueError:
                    self.note(
                        "moto's CloudFormation stores a role's inline policies as a Python repr, not JSON (read back with ast)"
                    )
        # moto does not attach ManagedPolicyArns; the stack's own managed policies must exist.
        for arn in p.get("ManagedPolicyArns", []):
            if f":{self.account}:policy/" in arn:
                self.report.check(
                    self.exists(lambda a=arn: self.iam.get_policy(PolicyArn=a)),
                    f"{where}: managed policy {arn} does not exist",
                )

    def check_managed_policy(self, logical_id: str, arn: str, p: dict[str, Any]) -> None:
        policy = self.iam.get_policy(PolicyArn=arn)["Policy"]
        version = self.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        self.report.equal(
            f"{logical_id} ({arn}) document",
            normalise(as_document(version["Document"])),
            normalise(p["PolicyDocument"]),
        )
        # Attached to a role by the template's ManagedPolicyArns (moto leaves them unattached).
        self.report.check(
            any(
                arn in self.resolved.get(k, {}).get("ManagedPolicyArns", [])
                for k, r in self.kept.items()
                if r["Type"] == "AWS::IAM::Role"
            )
            or bool(p.get("Roles")),
            f"{logical_id}: no role of the stack uses managed policy {arn}",
        )

    def check_table(self, logical_id: str, name: str, p: dict[str, Any]) -> None:
        t = self.ddb.describe_table(TableName=name)["Table"]
        where = f"{logical_id} (table {name})"
        self.report.equal(f"{where} TableName", t["TableName"], p.get("TableName", name))
        self.report.equal(f"{where} KeySchema", t["KeySchema"], p["KeySchema"])
        self.report.equal(
            f"{where} AttributeDefinitions",
            sorted(t["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            sorted(p["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        )
        actual_gsis = {
            g["IndexName"]: {"KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in t.get("GlobalSecondaryIndexes", [])
        }
        expected_gsis = {
            g["IndexName"]: {"KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in p.get("GlobalSecondaryIndexes", [])
        }
        self.report.equal(f"{where} GlobalSecondaryIndexes", actual_gsis, expected_gsis)
        if "BillingMode" in p:
            self.report.equal(
                f"{where} BillingMode", t.get("BillingModeSummary", {}).get("BillingMode"), p["BillingMode"]
            )
        if "StreamSpecification" in p:
            self.report.equal(
                f"{where} StreamViewType",
                t.get("StreamSpecification", {}).get("StreamViewType"),
                p["StreamSpecification"].get("StreamViewType"),
            )
        if "DeletionProtectionEnabled" in p:
            self.report.equal(
                f"{where} DeletionProtectionEnabled",
                t.get("DeletionProtectionEnabled", False),
                p["DeletionProtectionEnabled"],
            )

    def check_bucket(self, logical_id: str, name: str, p: dict[str, Any]) -> None:
        where = f"{logical_id} (bucket {name})"
        self.s3.head_bucket(Bucket=name)
        if "BucketName" in p:
            self.report.equal(f"{where} BucketName", name, p["BucketName"])
        if "BucketEncryption" in p:
            rules = self.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
            self.report.equal(
                f"{where} encryption",
                [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules],
                [
                    r["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
                    for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ],
            )
        if tags_of(p):
            tags = {t["Key"]: t["Value"] for t in self.s3.get_bucket_tagging(Bucket=name).get("TagSet", [])}
            for key, value in tags_of(p).items():
                self.report.equal(f"{where} tag {key}", tags.get(key), value)
        # moto does not apply NotificationConfiguration: check its wiring. S3 refuses a Lambda
        # notification unless the function exists and lets s3.amazonaws.com invoke it for this bucket.
        for n in p.get("NotificationConfiguration", {}).get("LambdaConfigurations", []):
            self.report.check(
                self.stack_function(n["Function"]) is not None,
                f"{where}: notification target {n['Function']} is not a function of the stack",
            )
            self.report.check(
                self.function_allows(n["Function"], "s3.amazonaws.com", f"arn:aws:s3:::{name}"),
                f"{where}: no Lambda permission lets S3 invoke {n['Function']} for this bucket",
            )

    def queue_arns(self) -> dict[str, str]:
        if not hasattr(self, "_queue_arns"):
            self._queue_arns = {
                self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                    "QueueArn"
                ]: logical
                for url, logical in self.stack_ids("AWS::SQS::Queue").items()
            }
        return self._queue_arns

    def check_queue(self, logical_id: str, url: str, p: dict[str, Any]) -> None:
        where = f"{logical_id} (queue {url})"
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if "QueueName" in p:
            self.report.equal(f"{where} QueueName", url.rsplit("/", 1)[-1], p["QueueName"])
        for key, value in p.items():
            if key in ("QueueName", "Tags"):
                continue
            expected = (
                json.dumps(value, separators=(",", ":"))
                if isinstance(value, dict)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
            self.report.equal(f"{where} {key}", attributes.get(key), expected)
        tags = self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        for key, value in tags_of(p).items():
            self.report.equal(f"{where} tag {key}", tags.get(key), value)

    def check_log_group(self, logical_id: str, name: str, p: dict[str, Any]) -> None:
        groups = [
            g for g in self.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
        ]
        if not self.report.check(len(groups) == 1, f"{logical_id}: log group {name} does not exist"):
            return
        if "LogGroupName" in p:
            self.report.equal(f"{logical_id} LogGroupName", name, p["LogGroupName"])
        if "RetentionInDays" in p:
            self.report.equal(
                f"{logical_id} ({name}) RetentionInDays", groups[0].get("retentionInDays"), p["RetentionInDays"]
            )
        if "KmsKeyId" in p:
            # moto drops it (its model expects the API's kmsKeyId); the key must exist and be enabled.
            key = self.client("kms").describe_key(KeyId=p["KmsKeyId"])["KeyMetadata"]
            self.report.check(
                key.get("KeyState") == "Enabled", f"{logical_id}: KMS key {p['KmsKeyId']} is {key.get('KeyState')}"
            )

    def function_statements(self, function: str) -> list[dict[str, Any]]:
        try:
            policy = self.lam.get_policy(FunctionName=function)["Policy"]
        except ClientError:
            return []
        return json.loads(policy).get("Statement", [])

    def function_allows(self, function: str, principal: str, source_arn: str) -> bool:
        for statement in self.function_statements(function):
            service = statement.get("Principal", {})
            service = service.get("Service") if isinstance(service, dict) else service
            pattern = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
            if (
                service == principal
                and statement.get("Effect") == "Allow"
                and (pattern is None or fnmatch.fnmatchcase(source_arn, pattern))
            ):
                return True
        return False

    def check_permission(self, logical_id: str, _physical: str, p: dict[str, Any]) -> None:
        statements = self.function_statements(p["FunctionName"])
        match = [
            s
            for s in statements
            if (s.get("Principal", {}).get("Service") if isinstance(s.get("Principal"), dict) else s.get("Principal"))
            == p["Principal"]
            and s.get("Action") == p["Action"]
            and s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == p.get("SourceArn")
        ]
        self.report.check(
            bool(match),
            f"{logical_id}: function {p['FunctionName']} has no statement {p['Principal']} {p['Action']} {p.get('SourceArn')}",
        )

    def check_rule(self, logical_id: str, name: str, p: dict[str, Any]) -> None:
        rule_name = name.split("|")[-1]
        rule = self.events.describe_rule(Name=rule_name)
        where = f"{logical_id} (rule {rule_name})"
        for key in ("ScheduleExpression", "State", "EventPattern", "Description"):
            if key in p:
                self.report.equal(f"{where} {key}", rule.get(key), p[key])
        targets = self.events.list_targets_by_rule(Rule=rule_name)["Targets"]
        self.report.equal(
            f"{where} targets",
            sorted((t["Id"], t["Arn"]) for t in targets),
            sorted((t["Id"], t["Arn"]) for t in p.get("Targets", [])),
        )
        for target in p.get("Targets", []):
            if ":lambda:" in target["Arn"]:
                self.report.check(
                    self.function_allows(target["Arn"], "events.amazonaws.com", rule["Arn"]),
                    f"{where}: no Lambda permission lets EventBridge invoke {target['Arn']}",
                )

    # -------------------------------------------------------------------------------- skipped
    def check_skipped(self) -> None:
        order = ["AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"]
        for logical_id, resource in sorted(
            self.skipped.items(),
            key=lambda i: (i[1]["Type"] not in order, order.index(i[1]["Type"]) if i[1]["Type"] in order else 0, i[0]),
        ):
            p = self.resolved.get(logical_id)
            if p is None:
                self.report.check("Condition" in resource, f"{logical_id}: its properties were not resolved")
                continue
            checker = {
                "AWS::ApiGatewayV2::Api": self.skipped_api,
                "AWS::ApiGatewayV2::Stage": self.skipped_stage,
                "AWS::Lambda::EventInvokeConfig": self.skipped_invoke_config,
                "AWS::S3::BucketPolicy": self.skipped_bucket_policy,
                "AWS::Lambda::EventSourceMapping": self.skipped_kafka_mapping,
            }.get(resource["Type"])
            if checker is None:
                self.report.check(False, f"{logical_id}: no check for skipped type {resource['Type']}")
                continue
            try:
                checker(logical_id, p)
            except ClientError as error:
                self.report.check(False, f"{logical_id} ({resource['Type']}, checked through the service API): {error}")

    def stack_function(self, function: str) -> dict[str, Any] | None:
        """The configuration of a function of this stack, by name or ARN."""
        names = {v for k, v in self.physical.items() if self.kept[k]["Type"] == "AWS::Lambda::Function"}
        name = function.split(":function:")[-1].split(":")[0] if ":function:" in function else function
        if name not in names:
            return None
        return self.lam.get_function_configuration(FunctionName=name)

    def role_documents(self, role_arn: str) -> list[dict[str, Any]]:
        name = role_arn.rsplit("/", 1)[-1]
        documents = [
            as_document(self.iam.get_role_policy(RoleName=name, PolicyName=n)["PolicyDocument"])
            for n in self.iam.list_role_policies(RoleName=name)["PolicyNames"]
        ]
        for attached in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            policy = self.iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = self.iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
            documents.append(as_document(version["PolicyVersion"]["Document"]))
        return documents

    def skipped_api(self, logical_id: str, p: dict[str, Any]) -> None:
        body = p.get("Body")
        if not self.report.check(
            isinstance(body, dict), f"{logical_id}: only an inline OpenAPI Body is checked (got {sorted(p)})"
        ):
            return
        self.report.check(str(body.get("openapi", "")).startswith("3.0"), f"{logical_id}: the body is not OpenAPI 3.0")
        cors = body.get("x-amazon-apigateway-cors")
        cors_keys = {"allowOrigins", "allowHeaders", "allowMethods", "exposeHeaders", "maxAge", "allowCredentials"}
        update: dict[str, Any] = {"ApiId": self.api_id}
        if cors is not None:
            if self.report.check(
                isinstance(cors, dict) and set(cors) <= cors_keys,
                f"{logical_id}: x-amazon-apigateway-cors resolves to {json.dumps(cors)} - API Gateway wants an object with "
                f"{sorted(cors_keys)}: aws-sam-translator makes an intrinsic CorsConfiguration.AllowOrigins (here a "
                "!Ref) the whole CORS configuration, dropping methods, headers and max age. Put the whole "
                "CorsConfiguration inside an Fn::If instead (both branches alike), the form the translator supports.",
            ):
                update["CorsConfiguration"] = {k[0].upper() + k[1:]: v for k, v in cors.items()}
        info = body.get("info", {})
        if info.get("description"):
            update["Description"] = info["description"]
        if "version" in info:
            update["Version"] = str(info["version"])
        self.apigw.update_api(**update)

        authorizers: dict[str, str] = {}
        for scheme_name, scheme in body.get("components", {}).get("securitySchemes", {}).items():
            authorizer = scheme.get("x-amazon-apigateway-authorizer")
            if not authorizer:
                continue
            if not self.report.check(
                authorizer.get("type") == "jwt", f"{logical_id}: authorizer {scheme_name} is not a JWT authorizer"
            ):
                continue
            jwt = authorizer.get("jwtConfiguration", {})
            self.report.equal(
                f"{logical_id} authorizer {scheme_name} issuer", jwt.get("issuer"), self.parameters.get("JwtIssuer")
            )
            self.report.check(bool(jwt.get("audience")), f"{logical_id}: authorizer {scheme_name} has no audience")
            identity = authorizer.get("identitySource", "$request.header.Authorization")
            created = self.apigw.create_authorizer(
                ApiId=self.api_id,
                AuthorizerType="JWT",
                Name=scheme_name,
                IdentitySource=identity if isinstance(identity, list) else [s.strip() for s in identity.split(",")],
                JwtConfiguration={"Issuer": jwt.get("issuer"), "Audience": jwt.get("audience", [])},
            )
            authorizers[scheme_name] = created["AuthorizerId"]
        default_security = body.get("security", [])

        for path, operations in body.get("paths", {}).items():
            for method, operation in operations.items():
                if method.startswith("x-") or method == "parameters":
                    continue
                route_key = f"{'ANY' if method == 'x-amazon-apigateway-any-method' else method.upper()} {path}"
                integration = operation.get("x-amazon-apigateway-integration", {})
                uri = integration.get("uri", "")
                function_arn = (
                    uri.split("/functions/")[-1].removesuffix("/invocations") if "/functions/" in uri else uri
                )
                configuration = self.stack_function(function_arn)
                if not self.report.check(
                    configuration is not None and configuration["FunctionArn"] == function_arn,
                    f"{logical_id} route {route_key}: integration target {function_arn!r} is not a function of the stack",
                ):
                    continue
                self.report.equal(
                    f"{logical_id} route {route_key} integration type", integration.get("type"), "aws_proxy"
                )
                self.report.equal(
                    f"{logical_id} route {route_key} payload format", integration.get("payloadFormatVersion"), "2.0"
                )
                created = self.apigw.create_integration(
                    ApiId=self.api_id,
                    IntegrationType="AWS_PROXY",
                    IntegrationUri=function_arn,
                    PayloadFormatVersion=integration.get("payloadFormatVersion", "2.0"),
                )
                security = operation.get("security", default_security)
                schemes = [name for requirement in security for name in requirement]
                route: dict[str, Any] = {
                    "ApiId": self.api_id,
                    "RouteKey": route_key,
                    "Target": f"integrations/{created['IntegrationId']}",
                }
                if schemes and schemes != ["NONE"]:
                    scheme = schemes[0]
                    if not self.report.check(
                        scheme in authorizers, f"{logical_id} route {route_key}: unknown authorizer {scheme}"
                    ):
                        continue
                    route.update(AuthorizationType="JWT", AuthorizerId=authorizers[scheme])
                else:
                    route["AuthorizationType"] = "NONE"
                self.api_routes[route_key] = self.apigw.create_route(**route)
                # API Gateway can call the function only if its resource policy lets it, for this route.
                concrete = re.sub(r"\{[^}]+\}", "sample", path)
                source = f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.parameters.get('Stage', 'dev')}/{method.upper()}{concrete}"
                self.report.check(
                    self.function_allows(function_arn, "apigateway.amazonaws.com", source),
                    f"{logical_id} route {route_key}: no Lambda permission lets API Gateway invoke {function_arn} ({source})",
                )
        routes = self.apigw.get_routes(ApiId=self.api_id)["Items"]
        self.report.equal(f"{logical_id} route count in the emulator", len(routes), len(self.api_routes))

    def skipped_stage(self, logical_id: str, p: dict[str, Any]) -> None:
        self.report.equal(f"{logical_id} ApiId", p.get("ApiId"), self.api_id)
        for route_key in p.get("RouteSettings", {}):
            self.report.check(
                route_key in self.api_routes,
                f"{logical_id}: RouteSettings key {route_key!r} is not a route of the API (CloudFormation refuses it)",
            )
        access = p.get("AccessLogSettings")
        if access:
            groups = {
                self.physical[k]: k
                for k, r in self.kept.items()
                if r["Type"] == "AWS::Logs::LogGroup" and k in self.physical
            }
            destination = access.get("DestinationArn", "")
            group_name = destination.split(":log-group:")[-1].removesuffix(":*")
            self.report.check(
                group_name in groups,
                f"{logical_id}: access log destination {destination} is not a log group of the stack",
            )
            self.report.check(
                "$context.requestId" in access.get("Format", "")
                or "$context.extendedRequestId" in access.get("Format", ""),
                f"{logical_id}: the access log format must contain $context.requestId (API Gateway refuses it otherwise)",
            )
        stage: dict[str, Any] = {"ApiId": self.api_id, "StageName": p["StageName"]}
        for key in ("AutoDeploy", "Description", "StageVariables", "Tags"):
            if key in p:
                stage[key] = p[key]
        if access:
            stage["AccessLogSettings"] = access
        if "DefaultRouteSettings" in p:
            stage["DefaultRouteSettings"] = p["DefaultRouteSettings"]
        if "RouteSettings" in p:
            stage["RouteSettings"] = p["RouteSettings"]
        self.apigw.create_stage(**stage)
        got = self.apigw.get_stage(ApiId=self.api_id, StageName=p["StageName"])
        self.report.equal(f"{logical_id} stage name", got["StageName"], p["StageName"])

    def skipped_invoke_config(self, logical_id: str, p: dict[str, Any]) -> None:
        configuration = self.stack_function(p["FunctionName"])
        if not self.report.check(
            configuration is not None, f"{logical_id}: {p['FunctionName']} is not a function of the stack"
        ):
            return
        request = {"FunctionName": p["FunctionName"], "Qualifier": p.get("Qualifier", "$LATEST")}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in p:
                request[key] = int(p[key])
        if p.get("DestinationConfig"):
            request["DestinationConfig"] = p["DestinationConfig"]
        self.lam.put_function_event_invoke_config(**request)
        got = self.lam.get_function_event_invoke_config(FunctionName=p["FunctionName"], Qualifier=request["Qualifier"])
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in request:
                self.report.equal(f"{logical_id} {key}", got.get(key), request[key])

    def skipped_bucket_policy(self, logical_id: str, p: dict[str, Any]) -> None:
        bucket = p.get("Bucket")
        buckets = {
            self.physical[k] for k, r in self.kept.items() if r["Type"] == "AWS::S3::Bucket" and k in self.physical
        }
        if not self.report.check(bucket in buckets, f"{logical_id}: bucket {bucket!r} is not a bucket of the stack"):
            return
        document = p["PolicyDocument"]
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            resources = statement.get("Resource", [])
            for resource in resources if isinstance(resources, list) else [resources]:
                self.report.check(
                    resource == f"arn:aws:s3:::{bucket}" or resource.startswith(f"arn:aws:s3:::{bucket}/"),
                    f"{logical_id}: statement {statement.get('Sid', '?')} names {resource}, not bucket {bucket}",
                )
        self.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
        got = json.loads(self.s3.get_bucket_policy(Bucket=bucket)["Policy"])
        self.report.equal(f"{logical_id} policy", normalise(got), normalise(document))

    def skipped_kafka_mapping(self, logical_id: str, p: dict[str, Any]) -> None:
        configuration = self.stack_function(p["FunctionName"])
        if not self.report.check(
            configuration is not None, f"{logical_id}: {p['FunctionName']} is not a function of the stack"
        ):
            return
        documents = self.role_documents(configuration["Role"])
        servers = p.get("SelfManagedEventSource", {}).get("Endpoints", {}).get("KafkaBootstrapServers", [])
        self.report.check(
            bool(servers) and all(re.fullmatch(r"[A-Za-z0-9.-]+:[0-9]{1,5}", s) for s in servers),
            f"{logical_id}: KafkaBootstrapServers {servers!r} are not host:port",
        )
        self.report.check(
            len(p.get("Topics", [])) == 1,
            f"{logical_id}: a Kafka event source takes exactly one topic, not {p.get('Topics')}",
        )
        self.report.check(
            p.get("StartingPosition") in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"),
            f"{logical_id}: StartingPosition {p.get('StartingPosition')!r}",
        )
        self.report.check(
            1 <= int(p.get("BatchSize", 100)) <= 10000, f"{logical_id}: BatchSize {p.get('BatchSize')} outside 1..10000"
        )
        self.report.check(
            set(p.get("FunctionResponseTypes", [])) <= {"ReportBatchItemFailures"},
            f"{logical_id}: FunctionResponseTypes {p.get('FunctionResponseTypes')}",
        )
        pollers = p.get("ProvisionedPollerConfig")
        if pollers:
            low, high = int(pollers.get("MinimumPollers", 1)), int(pollers.get("MaximumPollers", 200))
            self.report.check(1 <= low <= high <= 2000, f"{logical_id}: ProvisionedPollerConfig {pollers}")
        if "MaximumRetryAttempts" in p:
            self.report.check(
                -1 <= int(p["MaximumRetryAttempts"]) <= 10000,
                f"{logical_id}: MaximumRetryAttempts {p['MaximumRetryAttempts']}",
            )
        if "MaximumRecordAgeInSeconds" in p:
            age = int(p["MaximumRecordAgeInSeconds"])
            self.report.check(age == -1 or 60 <= age <= 604800, f"{logical_id}: MaximumRecordAgeInSeconds {age}")
        for access in p.get("SourceAccessConfigurations", []):
            if access.get("Type") in (
                "BASIC_AUTH",
                "SASL_SCRAM_256_AUTH",
                "SASL_SCRAM_512_AUTH",
                "CLIENT_CERTIFICATE_TLS_AUTH",
                "SERVER_ROOT_CA_CERTIFICATE",
            ):
                secret = access.get("URI", "")
                self.sm.describe_secret(SecretId=secret)
                self.report.check(
                    policy_allows(documents, "secretsmanager:GetSecretValue", secret),
                    f"{logical_id}: the role of {p['FunctionName']} may not read the Kafka secret {secret} (Lambda needs it to poll)",
                )
        destination = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            if self.report.check(
                destination in self.queue_arns(),
                f"{logical_id}: on-failure destination {destination} is not a queue of the stack",
            ):
                self.report.check(
                    policy_allows(documents, "sqs:SendMessage", destination),
                    f"{logical_id}: the role of {p['FunctionName']} may not send to its on-failure queue {destination}",
                )

    # -------------------------------------------------------------------------------- delete
    def delete_and_check(self) -> None:
        self.cfn.delete_stack(StackName=self.stack_name)
        try:
            self.cfn.get_waiter("stack_delete_complete").wait(
                StackName=self.stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except WaiterError as error:
            self.report.check(False, f"delete_stack did not complete: {error}")
            return
        self.stack_deleted = True
        probes: dict[str, Callable[[str], Any]] = {
            "AWS::DynamoDB::Table": lambda n: self.ddb.describe_table(TableName=n),
            "AWS::S3::Bucket": lambda n: self.s3.head_bucket(Bucket=n),
            "AWS::Lambda::Function": lambda n: self.lam.get_function(FunctionName=n),
            "AWS::IAM::Role": lambda n: self.iam.get_role(RoleName=n),
            "AWS::IAM::ManagedPolicy": lambda n: self.iam.get_policy(PolicyArn=n),
            "AWS::SQS::Queue": lambda n: self.sqs.get_queue_attributes(QueueUrl=n, AttributeNames=["QueueArn"]),
            "AWS::Events::Rule": lambda n: self.events.describe_rule(Name=n.split("|")[-1]),
        }
        for logical_id, resource in self.kept.items():
            name = self.physical.get(logical_id)
            probe = probes.get(resource["Type"])
            if not name or not probe:
                continue
            retained = resource.get("DeletionPolicy") == "Retain"
            exists = self.exists(lambda p=probe, n=name: p(n))
            if exists and not retained and resource["Type"] in MOTO_KEEPS_ON_DELETE:
                self.note(
                    f"moto's CloudFormation leaves {resource['Type']} behind when it deletes a stack (removed here)"
                )
                self.iam.delete_policy(PolicyArn=name)
                continue
            self.report.check(
                exists == retained,
                f"{logical_id} ({resource['Type']}) {'was deleted despite' if retained else 'survived the stack without'} DeletionPolicy Retain",
            )
            if retained and exists:
                self.delete_retained(resource["Type"], name)
        log_groups = [
            self.physical[k] for k, r in self.kept.items() if r["Type"] == "AWS::Logs::LogGroup" and k in self.physical
        ]
        left = [g for g in log_groups if self.logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"]]
        self.report.check(not left, f"log groups survived the stack: {left[:3]}")

    @staticmethod
    def exists(call: Callable[[], Any]) -> bool:
        try:
            call()
            return True
        except ClientError:
            return False

    def note(self, message: str) -> None:
        if message not in self.report.notes:
            self.report.notes.append(message)

    def clean_up(self) -> None:
        for what, action in reversed(self.cleanups):
            try:
                action()
            except ClientError as error:
                log(f"clean-up of {what} failed: {error.response['Error'].get('Message', error)}")
        self.cleanups.clear()

    # -------------------------------------------------------------------------------- main
    def run(self) -> int:
        started = time.monotonic()

        def lap(name: str) -> None:
            self.timings[name] = time.monotonic() - started

        self.translate()
        lap("translate")
        size = len(json.dumps(self.template, separators=(",", ":")).encode())
        if size > 1_000_000:
            raise SetupError(f"the translated template is {size} bytes; CloudFormation takes at most 1,000,000 from S3")
        unknown = sorted(
            {r["Type"] for r in self.template["Resources"].values() if r["Type"].startswith("AWS::Serverless::")}
        )
        if unknown:
            raise SetupError(f"the translation left SAM types behind: {unknown}")
        self.leftovers()
        try:
            supplied = self.create_fixtures()
            self.choose_parameters(supplied)
            deployable = self.plan()
            lap("fixtures")
            self.deploy(deployable)
            lap("create_stack")
            self.collect()
            self.check_outputs()
            self.check_kept()
            self.check_skipped()
            lap("checks")
            if not self.args.keep:
                self.delete_and_check()
                lap("delete_stack")
        finally:
            if not self.args.keep:
                self.clean_up()
        lap("total")
        self.summary(size)
        return 1 if self.report.failures else 0

    def summary(self, size: int) -> None:
        def count(resources: dict[str, dict[str, Any]]) -> dict[str, int]:
            counts: dict[str, int] = {}
            for resource in resources.values():
                counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
            return dict(sorted(counts.items()))

        kept_types, skipped_types = count(self.kept), count(self.skipped)
        limit = (
            " (over the 51,200-byte TemplateBody limit: deployed from S3, as `sam deploy` does)"
            if size > 51_200
            else ""
        )
        log(f"translated template: {len(self.template['Resources'])} resources, {size} bytes{limit}")
        expected = len(self.kept) - len(self.conditioned_out)
        log(f"created {self.created} of {expected} resources of {len(kept_types)} types in moto's CloudFormation:")
        for kind, number in kept_types.items():
            extra = []
            if kind in getattr(self, "presence_only", []):
                extra.append("presence only")
            if kind in MOTO_WITHOUT_PHYSICAL_ID:
                extra.append("no physical id in moto: looked up in the service")
            if kind in MOTO_IGNORED_PROPERTIES:
                extra.append("moto ignores " + ", ".join(MOTO_IGNORED_PROPERTIES[kind]))
            log(f"  {number:3d} {kind}" + (f"  ({'; '.join(extra)})" if extra else ""))
        if self.conditioned_out:
            log(f"not created, their condition being false: {', '.join(self.conditioned_out)}")
        if self.conditioned_outputs:
            log(f"outputs absent, their condition being false: {', '.join(self.conditioned_outputs)}")
        log(
            f"skipped {len(self.skipped)} resources of types moto's CloudFormation cannot create (checked another way):"
        )
        for kind, number in skipped_types.items():
            log(f"  {number:3d} {kind}: {SKIPPED_TYPES[kind].reason}")
        unique = sorted(set(self.report.substitutions))
        if unique:
            log(f"{len(unique)} substitutions in the deployed copy, e.g. {unique[0]}")
        for dropped in self.dropped_outputs:
            log(f"output dropped: {dropped}")
        log("outputs:")
        for name in self.template.get("Outputs", {}):
            log(f"  {name} = {self.outputs.get(name, '(missing)')}")
        for note in self.report.notes:
            log(f"note: {note}")
        log("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items()))
        if self.report.failures:
            log(f"FAILED: {len(self.report.failures)} of {self.report.checks} checks:")
            for failure in self.report.failures:
                log(f"  - {failure}")
        else:
            log(f"OK: {self.report.checks} checks passed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--template", default=str(ROOT / "template.yaml"), help="the SAM template (default: template.yaml)"
    )
    parser.add_argument("--translated", help="an already translated template (JSON) instead of translating --template")
    parser.add_argument("--stack-name", default="careflow-deploy-check")
    parser.add_argument(
        "--keep", action="store_true", help="leave the stack and its fixtures in the emulator (debugging)"
    )
    parser.add_argument(
        "--without-kms", action="store_true", help="leave the optional *KmsKeyArn parameters empty (their other branch)"
    )
    args = parser.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urlparse(endpoint).hostname or ""
    if not host or host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        print(
            f"deploy_template_to_moto: AWS_ENDPOINT_URL must point at the emulator (got {endpoint!r}); refusing to deploy to AWS",
            file=sys.stderr,
        )
        return 2
    try:
        return DeployCheck(args).run()
    except SetupError as error:
        print(f"deploy_template_to_moto: {error}", file=sys.stderr)
        return 2
    except ClientError as error:
        print(f"deploy_template_to_moto: emulator call failed: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
