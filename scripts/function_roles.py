"""Creates each function's IAM role in the local AWS emulator, as CloudFormation would deploy it.

    python scripts/function_roles.py --translated FILE --out CREDENTIALS.json \
        [--name LogicalId=physical-name ...] [--parameter Name=value ...] \
        [--role-prefix PREFIX] [--function crate-name ...]

FILE is template.yaml after the SAM transform (scripts/sam_translate.py), so every role carries
exactly the policies `sam deploy` would give it, policy templates expanded. Each role's inline
policies are created with `!Ref`, `!GetAtt ….Arn`, `!Sub`, `!If` and `!Join` resolved to the
emulator's names and ARNs (`--name RecordsTable=careflow-local-records`, IAM wildcards allowed:
the tests give each test a table of its own, `test-records-` and 32 hex digits, so they name it
`test-records-` and 32 `?`). The role is then assumed, as Lambda assumes it, and the temporary
credentials are written to CREDENTIALS.json by function (crate) name:

    {"functions": {"patients-get": {"role_arn": …, "access_key_id": …, "secret_access_key": …,
                                    "session_token": …, "environment": {…}}}}

with each function's environment variables as the template resolves them for this stage, and
the parameters used ("parameters").

The emulator enforces IAM (scripts/moto_server_serial.py --admin-credentials), so a function
that runs with these credentials can do exactly what its role allows. Uses the administrator's
credentials from the environment. Runs with any Python that has boto3 (.local/venv).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_template import Template  # noqa: E402

# The longest session a role may allow; the test run and the runner outlive the 1-hour default.
SESSION_SECONDS = 12 * 3600


def functions_and_roles(template: dict[str, Any]) -> dict[str, str]:
    """Crate name (Metadata.BuildProperties.Binary) → the logical id of its role."""
    out = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        role = resource["Properties"].get("Role", {})
        if binary and isinstance(role, dict) and "Fn::GetAtt" in role:
            out[binary] = role["Fn::GetAtt"][0]
    return out


def pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise SystemExit(f"{what} must be NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out[name] = value
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--translated", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--ensure-secret", metavar="NAME",
                        help="create the secret NAME unless it exists, print its ARN, and stop")
    parser.add_argument("--name", action="append", default=[], help="LogicalId=physical-name")
    parser.add_argument("--parameter", action="append", default=[], help="Name=value")
    parser.add_argument("--parameters-from", type=Path, metavar="CREDENTIALS.json",
                        help="the parameters of an earlier run (its output file); --parameter wins")
    parser.add_argument("--role-prefix", default="careflow-local")
    parser.add_argument("--function", action="append", default=[], help="only these functions")
    args = parser.parse_args()

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if args.ensure_secret:
        secrets = boto3.client("secretsmanager", region_name=region)
        try:
            arn = secrets.describe_secret(SecretId=args.ensure_secret)["ARN"]
        except secrets.exceptions.ResourceNotFoundException:
            arn = secrets.create_secret(Name=args.ensure_secret, SecretString="{}")["ARN"]
        print(arn)
        return 0
    if not args.translated or not args.out:
        parser.error("--translated and --out are required")
    template = json.loads(args.translated.read_text())
    iam = boto3.client("iam", region_name=region)
    sts = boto3.client("sts", region_name=region)
    identity = sts.get_caller_identity()
    account, caller_arn = identity["Account"], identity["Arn"]
    parameters = {}
    if args.parameters_from:
        parameters.update(json.loads(args.parameters_from.read_text()).get("parameters", {}))
    parameters.update(pairs(args.parameter, "--parameter"))
    resolver = Template(
        template, parameters, region=region, account=account,
        names=pairs(args.name, "--name"), strict=True,
    )

    roles = functions_and_roles(template)
    function_ids = {
        resource["Metadata"]["BuildProperties"]["Binary"]: logical_id
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Lambda::Function"
        and resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    }
    wanted = args.function or sorted(roles)
    unknown = [f for f in wanted if f not in roles]
    if unknown:
        raise SystemExit(f"no function {', '.join(unknown)} in {args.translated}")
    credentials = {}
    for function in wanted:
        role_name = f"{args.role_prefix}-{function}"[:64]
        # The template lets the Lambda service assume the role; here the emulator's
        # administrator assumes it in Lambda's place (moto cannot evaluate a trust policy with a
        # Service principal), so that is the one principal the local role trusts.
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": caller_arn}, "Action": "sts:AssumeRole"}],
        }
        try:
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(trust),
                MaxSessionDuration=SESSION_SECONDS,
            )
        except iam.exceptions.EntityAlreadyExistsException:
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
            for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=role_name, PolicyName=name)
        # Every statement the role gets: its inline policies and the managed policies the
        # template defines and attaches to it, put inline here (IAM evaluates them alike).
        # SAM's policy templates leave Version out (IAM then reads 2008-10-17, which differs only
        # in policy variables, used by none); moto insists on one. The AWS managed policies SAM
        # attaches (logs, X-Ray, VPC networking) cover no call a function makes to the APIs the
        # emulator serves, so they are not attached here.
        statements = resolver.role_statements(roles[function])
        if statements:
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName="template",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
        role_arn = f"arn:aws:iam::{account}:role/{role_name}"
        assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName=function[:64],
                                  DurationSeconds=SESSION_SECONDS)["Credentials"]
        function_props = template["Resources"][function_ids[function]]["Properties"]
        environment = resolver.ev(function_props.get("Environment", {}).get("Variables", {}))
        credentials[function] = {
            "environment": {k: str(v) for k, v in environment.items()},
            "role_arn": role_arn,
            "access_key_id": assumed["AccessKeyId"],
            "secret_access_key": assumed["SecretAccessKey"],
            "session_token": assumed["SessionToken"],
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"parameters": parameters, "functions": credentials}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
