"""template.yaml after the SAM transform, with CloudFormation's intrinsics resolved offline.

Shared by scripts/function_roles.py (the roles it creates in the emulator) and
scripts/check_iam_grants.py (what those roles grant): `!Ref`, `!GetAtt ….Arn`, `!Sub`, `!If`,
`!Join`, `!Split`, `!Select`, `!FindInMap` and the condition functions, resolved for one set of
parameter values, with each resource's physical name as CloudFormation would give it (or as
the caller names it).
"""

from __future__ import annotations

import re
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
NO_VALUE = object()


def as_list(v: Any) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


class Template:
    """The translated template with intrinsics resolved for one set of parameter values."""

    def __init__(
        self,
        doc: dict[str, Any],
        parameters: dict[str, Any],
        *,
        region: str = REGION,
        account: str = ACCOUNT,
        names: dict[str, str] | None = None,
        strict: bool = False,
    ):
        self.doc = doc
        self.region, self.account = region, account
        # Physical names chosen by the caller (a logical id → the name the emulator uses).
        self.names = names or {}
        # Strict: an intrinsic that cannot be resolved is an error, not a marker string.
        self.strict = strict
        self.resources: dict[str, dict] = doc.get("Resources", {})
        self.conditions_src: dict[str, Any] = doc.get("Conditions", {})
        self.mappings: dict[str, Any] = doc.get("Mappings", {})
        self.params = {
            name: spec["Default"]
            for name, spec in doc.get("Parameters", {}).items()
            if "Default" in spec
        }
        self.params.update(parameters)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "careflow-stack",
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    # names and ARNs ---------------------------------------------------------------------
    def physical_name(self, lid: str) -> str:
        if lid in self.names:
            return self.names[lid]
        props = self.resources[lid].get("Properties", {})
        for key in ("BucketName", "QueueName", "TableName", "FunctionName", "RoleName", "ManagedPolicyName", "PolicyName"):
            if key in props:
                v = self.ev(props[key])
                if isinstance(v, str):
                    return v
        return lid

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            kind = self.resources[name]["Type"]
            if kind == "AWS::IAM::ManagedPolicy":
                return f"arn:aws:iam::{self.account}:policy/{self.physical_name(name)}"
            if kind == "AWS::SQS::Queue":
                return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.physical_name(name)}"
            if kind == "AWS::KMS::Key":
                return f"key-id-{name}"
            return self.physical_name(name)
        return self._unresolved(f"!Ref {name}")

    def get_att(self, lid: str, attr: str) -> str:
        if lid not in self.resources:
            return self._unresolved(f"!GetAtt {lid}.{attr}")
        kind = self.resources[lid]["Type"]
        name = self.physical_name(lid)
        if attr == "Arn":
            forms = {
                "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
                "AWS::SQS::Queue": f"arn:aws:sqs:{self.region}:{self.account}:{name}",
                "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}",
                "AWS::Lambda::Function": f"arn:aws:lambda:{self.region}:{self.account}:function:{name}",
                "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{name}",
                "AWS::KMS::Key": f"arn:aws:kms:{self.region}:{self.account}:key/key-id-{lid}",
                "AWS::SNS::Topic": f"arn:aws:sns:{self.region}:{self.account}:{name}",
            }
            if kind in forms:
                return forms[kind]
        return self._unresolved(f"!GetAtt {lid}.{attr}")

    def _unresolved(self, what: str) -> str:
        if self.strict:
            raise ValueError(f"{what} cannot be resolved")
        return f"unresolved:{what}"

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.ev(self.conditions_src[name]))
        return self._conditions[name]

    def exists(self, lid: str) -> bool:
        cond = self.resources.get(lid, {}).get("Condition")
        return lid in self.resources and (cond is None or self.condition(cond))

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.ev(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                lid, attr = name.split(".", 1)
                return self.get_att(lid, attr)
            v = self.ref(name)
            return ",".join(v) if isinstance(v, list) else str(v)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def ev(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.ev(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(lid, attr)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self.sub(text, variables)
            if key == "Fn::If":
                return self.ev(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Join":
                parts = self.ev(arg[1])
                return str(arg[0]).join(str(p) for p in as_list(parts))
            if key == "Fn::Split":
                return str(self.ev(arg[1])).split(arg[0])
            if key == "Fn::Select":
                items = self.ev(arg[1])
                index = int(self.ev(arg[0]))
                if not isinstance(items, list):
                    return items
                if index < len(items):
                    return items[index]
                # A value only known at deploy time (a Terraform expression passed as a
                # parameter) splits into one opaque piece: keep the expression, marked.
                return f"<Select {index} of {'|'.join(str(i) for i in items)}>"
            if key == "Fn::FindInMap":
                m, k1, k2 = (self.ev(a) for a in arg[:3])
                return self.mappings.get(m, {}).get(k1, {}).get(k2)
            if key == "Fn::Equals":
                return self.ev(arg[0]) == self.ev(arg[1])
            if key == "Fn::Not":
                return not self.ev(arg[0])
            if key == "Fn::And":
                return all(self.ev(a) for a in arg)
            if key == "Fn::Or":
                return any(self.ev(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._unresolved(key)
        return {k: v for k, v in ((k, self.ev(v)) for k, v in node.items()) if v is not NO_VALUE}

    # roles ------------------------------------------------------------------------------
    def role_statements(self, role_id: str) -> list[dict]:
        props = self.resources[role_id].get("Properties", {})
        docs = [p.get("PolicyDocument", {}) for p in self.ev(props.get("Policies", [])) if isinstance(p, dict)]
        attached = set(str(a) for a in self.ev(props.get("ManagedPolicyArns", [])))
        role_name = self.physical_name(role_id)
        for lid, res in self.resources.items():
            if res.get("Type") not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") or not self.exists(lid):
                continue
            rp = res.get("Properties", {})
            by_arn = res["Type"] == "AWS::IAM::ManagedPolicy" and self.ref(lid) in attached
            by_roles = role_name in [str(r) for r in self.ev(rp.get("Roles", []))]
            if by_arn or by_roles:
                docs.append(self.ev(rp.get("PolicyDocument", {})))
        out = []
        for d in docs:
            for st in as_list(d.get("Statement") if isinstance(d, dict) else None):
                if isinstance(st, dict):
                    out.append(st)
        return out
