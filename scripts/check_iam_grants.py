#!/usr/bin/env python3
"""Offline check that every function's role can read and decrypt what the function reads.

For each Lambda function of template.yaml, after the SAM transform (scripts/sam_translate.py, run
with the SAM CLI's venv, so policy templates and event-source policies are expanded):

  * every secret the function reads (an environment variable named *_SECRET_ARN, and the
    secrets of its event source mappings, e.g. BASIC_AUTH for Kafka, which Lambda reads with the
    function's role) is covered by an Allow of secretsmanager:GetSecretValue on that secret in
    the role (inline policies, and managed policies defined in the template);
  * when the secret is encrypted with a customer-managed KMS key, the role may kms:Decrypt with
    that key through Secrets Manager (kms:ViaService), or the key policy grants it, and the key
    policy lets IAM policies of the account grant use of the key at all (the account root
    statement);
  * a role ARN the function hands to another service (SCHEDULER_ROLE_ARN: EventBridge Scheduler's
    target role for reminder schedules) is covered by an Allow of iam:PassRole on it for that
    service (iam:PassedToService), and a role EventBridge Scheduler assumes names, if anything,
    a schedule *group* as aws:SourceArn in its trust policy (what the scheduler sends);
  * when an S3 bucket, SQS queue or DynamoDB table of the template is encrypted with a
    customer-managed key, every role that writes or reads it has the KMS permissions S3, SQS or
    DynamoDB need on its behalf (GenerateDataKey to write S3/SQS, Decrypt to read). With the
    AWS-managed keys (aws/s3, aws/sqs, aws/dynamodb) no grant is needed.

It checks three deploy paths, and says which:

  SAM alone         the template's defaults; secrets encrypted with the AWS-managed key
                    aws/secretsmanager (no SecretsKmsKeyArn), which needs no grant;
  SAM alone + key   SecretsKmsKeyArn set to a sample key that encrypts every secret parameter;
  Terraform         the parameters terraform/modules/careflow passes to the stack of
                    terraform/modules/sam_app, each secret traced through the module wiring to
                    the resource that creates it and the KMS key that encrypts it
                    (aws_secretsmanager_secret.kms_key_id, aws_db_instance's
                    master_user_secret_kms_key_id), and that key's key policy.

Usage:
  scripts/check_iam_grants.py [--template template.yaml] [--terraform terraform] [--translated FILE]
  scripts/check_iam_grants.py --self-test
        breaks copies of the real inputs in a temporary directory (a GetSecretValue statement
        removed, the kms grant removed, the key parameter not passed by Terraform, the key
        policy without its account statement, the lab bucket on a customer-managed key) and
        requires that each is reported

Exit status 1 on any missing permission, naming the path, function, secret or store, and the
permission. AWS-managed policies attached by ARN (AWSLambdaBasicExecutionRole, ...) are taken
to grant nothing here (none of them grants secrets or KMS).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import hcl2  # bc-python-hcl2, as scripts/check_terraform.py
except ImportError:  # pragma: no cover
    sys.exit("check_iam_grants.py: the hcl2 module is missing (pip install -r scripts/requirements-dev.txt)")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cfn_template import ACCOUNT, REGION, Template, as_list as _as_list  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECRETS_KEY_PARAMETER = "SecretsKmsKeyArn"
SECRET_ENV = re.compile(r"_SECRET_ARN$")
# A role ARN a function hands to another service (EventBridge Scheduler's target role): the
# function's role needs iam:PassRole on it for that service (the emulator does not check this).
PASSED_ROLE_ENV = {"SCHEDULER_ROLE_ARN": "scheduler.amazonaws.com"}
# Event source access configurations whose URI is a Secrets Manager secret read with the role.
SECRET_ACCESS_TYPES = {
    "BASIC_AUTH",
    "SASL_SCRAM_256_AUTH",
    "SASL_SCRAM_512_AUTH",
    "CLIENT_CERTIFICATE_TLS_AUTH",
    "SERVER_ROOT_CA_CERTIFICATE",
}


def log(msg: str) -> None:
    print(f"check_iam_grants.py: {msg}")


# ------------------------------------------------------------------------------ IAM evaluation


def _wild(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one, everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _condition_holds(condition: dict, context: dict[str, str]) -> bool | None:
    """True/False, or None when an operator is not understood."""
    ctx = {k.lower(): v for k, v in context.items()}
    for op, tests in (condition or {}).items():
        if_exists = op.endswith("IfExists")
        base = op[: -len("IfExists")] if if_exists else op
        if not isinstance(tests, dict):
            return None
        for key, wanted in tests.items():
            got = ctx.get(str(key).lower())
            if got is None:
                if if_exists:
                    continue
                return False
            wanted = [str(w) for w in _as_list(wanted)]
            if base in ("StringEquals", "ArnEquals"):
                ok = got in wanted
            elif base == "StringEqualsIgnoreCase":
                ok = got.lower() in (w.lower() for w in wanted)
            elif base in ("StringLike", "ArnLike"):
                ok = any(_wild(w, got) for w in wanted)
            elif base == "StringNotEquals":
                ok = got not in wanted
            elif base == "StringNotLike":
                ok = not any(_wild(w, got) for w in wanted)
            else:
                return None
            if not ok:
                return False
    return True


def _statement_matches(st: dict, action: str, resource: str, context: dict[str, str]) -> bool | None:
    if "Action" in st:
        if not any(_wild(str(a), action, ignore_case=True) for a in _as_list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(_wild(str(a), action, ignore_case=True) for a in _as_list(st["NotAction"])):
            return False
    else:
        return False
    if "Resource" in st:
        if not any(_wild(str(r), resource) for r in _as_list(st["Resource"])):
            return False
    elif "NotResource" in st:
        if any(_wild(str(r), resource) for r in _as_list(st["NotResource"])):
            return False
    else:
        return False
    return _condition_holds(st.get("Condition") or {}, context)


def allowed(statements: list[dict], action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    """An explicit Allow and no explicit Deny (a Deny whose condition is not understood counts)."""
    context = context or {}
    allow = False
    for st in statements:
        verdict = _statement_matches(st, action, resource, context)
        if st.get("Effect") == "Deny" and verdict is not False:
            return False
        if st.get("Effect") == "Allow" and verdict is True:
            allow = True
    return allow


def writes_or_reads(statements: list[dict], actions: list[str], arn_prefix: str) -> bool:
    """Whether some Allow grants one of actions on arn_prefix or anything below it."""
    probe = [arn_prefix, arn_prefix + "/probe-object-key"]
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        if not any(_wild(str(a), act, ignore_case=True) for a in _as_list(st.get("Action")) for act in actions):
            continue
        for r in _as_list(st.get("Resource")):
            r = str(r)
            if r.startswith(arn_prefix + "/") or any(_wild(r, p) for p in probe):
                return True
    return False


# ------------------------------------------------------------------------------ CloudFormation


# ------------------------------------------------------------------------------ Terraform


@dataclass
class TfModule:
    path: Path
    variables: dict = field(default_factory=dict)  # name -> body
    outputs: dict = field(default_factory=dict)  # name -> value expression
    locals: dict = field(default_factory=dict)  # name -> expression
    calls: dict = field(default_factory=dict)  # name -> body
    resources: dict = field(default_factory=dict)  # (type, name) -> body
    data: dict = field(default_factory=dict)  # (type, name) -> body


def _unwrap(v: Any) -> Any:
    return v[0] if isinstance(v, list) and len(v) == 1 else v


def _labelled(doc: dict, kind: str):
    for entry in doc.get(kind, []) or []:
        for label, body in entry.items():
            if not label.startswith("__"):
                yield label.strip('"'), body


def load_tf(root: Path) -> dict[Path, TfModule]:
    mods: dict[Path, TfModule] = {}
    for d in sorted({p.parent for p in root.rglob("*.tf") if ".terraform" not in p.parts}):
        m = TfModule(d.resolve())
        for f in sorted(d.glob("*.tf")):
            with f.open(encoding="utf-8") as fh:
                doc = hcl2.load(fh)
            for name, body in _labelled(doc, "variable"):
                m.variables[name] = body
            for name, body in _labelled(doc, "output"):
                m.outputs[name] = _unwrap(body.get("value"))
            for entry in doc.get("locals", []) or []:
                for k, v in entry.items():
                    if not k.startswith("__"):
                        m.locals[k] = _unwrap(v)
            for name, body in _labelled(doc, "module"):
                m.calls[name] = body
            for kind, table in (("resource", m.resources), ("data", m.data)):
                for rtype, by_name in _labelled(doc, kind):
                    for rname, body in by_name.items():
                        if not rname.startswith("__"):
                            table[(rtype, rname.strip('"'))] = body
        mods[m.path] = m
    return mods


@dataclass
class Ctx:
    module: TfModule
    args: dict | None = None  # the calling module block's arguments
    parent: "Ctx | None" = None


@dataclass(frozen=True)
class TfNode:
    kind: str  # "resource", "data" or "unknown"
    where: str  # module directory name
    rtype: str = ""
    name: str = ""
    text: str = ""

    def label(self) -> str:
        if self.kind in ("resource", "data"):
            prefix = "data." if self.kind == "data" else ""
            return f"{self.where}/ {prefix}{self.rtype}.{self.name}"
        return f"{self.where}/ {self.text}"


class Tracer:
    def __init__(self, mods: dict[Path, TfModule], tf_root: Path):
        self.mods = mods
        self.tf_root = tf_root

    def rel(self, m: TfModule) -> str:
        try:
            return str(m.path.relative_to(self.tf_root.resolve()))
        except ValueError:
            return m.path.name

    def child(self, ctx: Ctx, call: str) -> Ctx | None:
        body = ctx.module.calls.get(call)
        if body is None:
            return None
        target = (ctx.module.path / str(_unwrap(body.get("source")))).resolve()
        if target not in self.mods:
            return None
        return Ctx(self.mods[target], {k: _unwrap(v) for k, v in body.items() if not k.startswith("__")}, ctx)

    def resolve(self, expr: Any, ctx: Ctx, depth: int = 0) -> TfNode:
        text = str(expr)
        if depth > 30:
            return TfNode("unknown", self.rel(ctx.module), text=text)
        inner = text[2:-1] if text.startswith("${") and text.endswith("}") and text.count("${") == 1 else text
        inner = inner.strip()
        m = re.match(r"module\.(\w+)(?:\[[^\]]*\])?\.(\w+)", inner)
        if m:
            child = self.child(ctx, m.group(1))
            if child and m.group(2) in child.module.outputs:
                return self.resolve(child.module.outputs[m.group(2)], child, depth + 1)
            return TfNode("unknown", self.rel(ctx.module), text=inner)
        m = re.fullmatch(r"var\.(\w+)", inner)
        if m:
            if ctx.args is not None and m.group(1) in ctx.args and ctx.parent is not None:
                return self.resolve(ctx.args[m.group(1)], ctx.parent, depth + 1)
            return TfNode("unknown", self.rel(ctx.module), text=inner)
        m = re.fullmatch(r"local\.(\w+)", inner)
        if m and m.group(1) in ctx.module.locals:
            return self.resolve(ctx.module.locals[m.group(1)], ctx, depth + 1)
        m = re.search(r"(?<![\w.])(data\.)?(aws_\w+)\.(\w+)", inner)
        if m:
            kind = "data" if m.group(1) else "resource"
            table = ctx.module.data if kind == "data" else ctx.module.resources
            if (m.group(2), m.group(3)) in table:
                return TfNode(kind, self.rel(ctx.module), m.group(2), m.group(3))
        return TfNode("unknown", self.rel(ctx.module), text=inner)

    def body(self, node: TfNode) -> dict:
        for m in self.mods.values():
            if self.rel(m) == node.where:
                table = m.data if node.kind == "data" else m.resources
                return table.get((node.rtype, node.name), {})
        return {}


# ------------------------------------------------------------------------------ the check


@dataclass
class DeployPath:
    name: str
    params: dict[str, Any]
    secret_keys: dict[str, str | None]  # secret ARN value -> KMS key ARN (None: AWS-managed)
    labels: dict[str, str]  # value -> human label
    key_policies: dict[str, dict]  # key ARN -> {"iam": bool, "everyone": bool, "label": str}
    notes: list[str] = field(default_factory=list)


def sample_parameters(doc: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in doc.get("Parameters", {}).items():
        if "Default" in spec:
            v = spec["Default"]
        elif "secretsmanager" in str(spec.get("AllowedPattern", "")) or name.endswith("SecretArn"):
            v = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
        else:
            v = f"sample-{name}"
        if str(spec.get("Type", "")).startswith(("List<", "CommaDelimitedList")):
            v = [x for x in str(v).split(",") if x] if isinstance(v, str) else v
        out[name] = v
    return out


def secret_parameters(doc: dict) -> list[str]:
    return [n for n, s in doc.get("Parameters", {}).items()
            if "secretsmanager" in str(s.get("AllowedPattern", "")) or n.endswith("SecretArn")]


def sam_paths(doc: dict) -> list[DeployPath]:
    base = sample_parameters(doc)
    secrets = secret_parameters(doc)
    labels = {base[s]: s for s in secrets}
    paths = [DeployPath(f"SAM alone (template defaults; {SECRETS_KEY_PARAMETER} "
                   f"{'empty' if SECRETS_KEY_PARAMETER in base else 'not declared'}: secrets under the "
                   f"AWS-managed key aws/secretsmanager)",
                   dict(base), {base[s]: None for s in secrets}, labels, {})]
    if SECRETS_KEY_PARAMETER in base:
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/sample-{SECRETS_KEY_PARAMETER}"
        params = dict(base, **{SECRETS_KEY_PARAMETER: key})
        paths.append(DeployPath(f"SAM alone + {SECRETS_KEY_PARAMETER} (a customer-managed key encrypts every secret "
                           f"parameter; its key policy assumed to delegate to IAM, as the parameter requires)",
                           params, {base[s]: key for s in secrets}, dict(labels, **{key: SECRETS_KEY_PARAMETER}),
                           {key: {"iam": True, "everyone": False, "label": SECRETS_KEY_PARAMETER}}))
    else:
        paths[0].notes.append(f"the template declares no {SECRETS_KEY_PARAMETER}: with SAM alone, secrets must use "
                              "the AWS-managed key")
    return paths


def _key_policy(tracer: Tracer, key: TfNode, chain: dict[str, Ctx]) -> dict:
    """Whether the key policy delegates to IAM (account root) and whether it grants everyone."""
    body = tracer.body(key)
    policy = _unwrap(body.get("policy"))
    info = {"iam": False, "everyone": False, "label": key.label()}
    if policy is None:
        info["iam"] = True  # the default key policy: the account root statement
        return info
    ctx = chain.get(key.where)
    node = tracer.resolve(policy, ctx) if ctx else TfNode("unknown", key.where, text=str(policy))
    if node.kind == "data" and node.rtype == "aws_iam_policy_document":
        for st in _as_list(_unwrap(tracer.body(node).get("statement"))):
            if str(_unwrap(st.get("effect", "Allow"))) != "Allow":
                continue
            actions = [str(a) for a in _as_list(_unwrap(st.get("actions")))]
            if not any(_wild(a, "kms:Decrypt", ignore_case=True) for a in actions):
                continue
            for p in _as_list(st.get("principals")):
                ptype = str(_unwrap(p.get("type")))
                ids = [str(i) for i in _as_list(_unwrap(p.get("identifiers")))]
                if ptype == "AWS" and any(i.endswith(":root") or re.fullmatch(r"\d{12}", i) for i in ids):
                    info["iam"] = True
                if (ptype == "AWS" and "*" in ids) or ptype == "*":
                    info["everyone"] = True
    else:
        text = str(policy)
        info["iam"] = ":root" in text
    return info


def terraform_path(doc: dict, tf_root: Path) -> tuple[DeployPath | None, list[str]]:
    errors: list[str] = []
    mods = load_tf(tf_root)
    tracer = Tracer(mods, tf_root)
    stack_mods = [m for m in mods.values() if any(t == "aws_cloudformation_stack" for t, _ in m.resources)]
    if not stack_mods:
        return None, [f"{tf_root}: no module creates an aws_cloudformation_stack (the SAM application)"]
    stack_mod = stack_mods[0]
    stack_body = next(b for (t, _), b in stack_mod.resources.items() if t == "aws_cloudformation_stack")
    pexpr = str(_unwrap(stack_body.get("parameters")))
    pvar = re.fullmatch(r"\$\{var\.(\w+)\}", pexpr)
    callers = [(m, n, b) for m in mods.values() for n, b in m.calls.items()
               if (m.path / str(_unwrap(b.get("source")))).resolve() == stack_mod.path]
    if not pvar or not callers:
        return None, [f"{tracer.rel(stack_mod)}/: the stack's parameters are not a variable set by a calling module"]
    caller, call_name, call_body = callers[0]
    ctx = Ctx(caller)
    chain = {tracer.rel(caller): ctx}
    for name in caller.calls:
        c = tracer.child(ctx, name)
        if c:
            chain[tracer.rel(c.module)] = c
    # parameters = local.sam_parameters = {for k, v in local.offered_parameters : k => v if
    # contains(local.template_names, k)}, offered = merge({...}, var.sam_extra_parameters)
    expr = str(_unwrap(call_body.get(pvar.group(1))))
    offered: dict[str, str] = {}
    extras: list[str] = []
    seen = set()
    todo = [expr]
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.add(e)
        for loc in re.findall(r"local\.(\w+)", e):
            if loc in caller.locals:
                todo.append(str(caller.locals[loc]))
        for k, v in re.findall(r"'([A-Za-z][A-Za-z0-9]*)': '((?:[^'\\]|\\.)*)'", e):
            offered[k] = v.replace('\\"', '"')
        extras += re.findall(r"var\.(sam_\w+)", e)
    if not offered:
        return None, [f"{tracer.rel(caller)}/: cannot read the parameters module {call_name!r} passes to the stack"]
    declared = doc.get("Parameters", {})
    params: dict[str, Any] = {}
    secret_keys: dict[str, str | None] = {}
    labels: dict[str, str] = {}
    key_policies: dict[str, dict] = {}
    notes = [f"{tracer.rel(caller)}/ module {call_name!r} -> {tracer.rel(stack_mod)}/: passes "
             f"{len([k for k in offered if k in declared])} of the template's {len(declared)} parameters"
             + (f" (plus var.{', var.'.join(sorted(set(extras)))}, caller-supplied, not traced)" if extras else "")]

    def key_arn(node: TfNode) -> str:
        return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/tf:{node.label().replace(' ', '')}"

    for name, spec in declared.items():
        if name not in offered:
            if "Default" not in spec:
                errors.append(f"[Terraform] parameter {name} has no Default and {tracer.rel(caller)}/ does not pass it")
                params[name] = f"missing-{name}"
            else:
                params[name] = spec["Default"]
            continue
        node = tracer.resolve(offered[name], ctx)
        value: Any
        if node.kind == "resource" and node.rtype == "aws_kms_key":
            value = key_arn(node)
            key_policies[value] = _key_policy(tracer, node, chain)
            labels[value] = node.label()
        elif node.kind == "resource" and node.rtype in ("aws_secretsmanager_secret", "aws_db_instance", "aws_rds_cluster"):
            value = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tf:{node.label().replace(' ', '')}-AbCdEf"
            body = tracer.body(node)
            attr = "kms_key_id" if node.rtype == "aws_secretsmanager_secret" else "master_user_secret_kms_key_id"
            if node.rtype != "aws_secretsmanager_secret" and _unwrap(body.get("manage_master_user_password")) is not True:
                errors.append(f"[Terraform] {name}: {node.label()} does not manage its master password in Secrets Manager")
            kexpr = _unwrap(body.get(attr))
            if kexpr is None:
                secret_keys[value] = None
                how = "AWS-managed key aws/secretsmanager"
            else:
                knode = tracer.resolve(kexpr, chain.get(node.where) or ctx)
                if knode.kind == "resource" and knode.rtype == "aws_kms_alias":
                    knode = tracer.resolve(_unwrap(tracer.body(knode).get("target_key_id")), chain.get(knode.where) or ctx)
                karn = key_arn(knode)
                secret_keys[value] = karn
                if knode.kind == "resource" and knode.rtype == "aws_kms_key":
                    key_policies.setdefault(karn, _key_policy(tracer, knode, chain))
                else:
                    key_policies.setdefault(karn, {"iam": True, "everyone": False, "label": knode.label()})
                labels[karn] = knode.label()
                how = f"key {knode.label()}"
            labels[value] = name
            notes.append(f"secret {name} = {offered[name]}: {node.label()}, "
                         f"{attr + ' = ' + str(kexpr) if kexpr is not None else 'no KMS key'}: {how}")
        else:
            value = f"tf:{offered[name]}"
        if str(spec.get("Type", "")).startswith(("List<", "CommaDelimitedList")):
            value = [value]
        params[name] = value
    for karn, info in key_policies.items():
        if any(k == karn for k in secret_keys.values()):
            notes.append(f"key policy of {info['label']}: "
                         + ("delegates to IAM policies (account root)" if info["iam"] else "does NOT delegate to IAM")
                         + ("; grants kms:Decrypt to every principal" if info["everyone"] else ""))
    p = DeployPath(f"Terraform ({tracer.rel(caller)}/ -> {tracer.rel(stack_mod)}/ stack parameters)",
              params, secret_keys, labels, key_policies, notes)
    return p, errors


def function_label(t: Template, lid: str) -> str:
    binary = t.resources[lid].get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    return f"{binary} ({lid})" if binary else lid


STORE_NEEDS = {
    # store type: [(data actions, kms actions needed, service)]
    "AWS::S3::Bucket": [(["s3:PutObject"], ["kms:GenerateDataKey"], "s3"),
                        (["s3:GetObject", "s3:GetObjectVersion"], ["kms:Decrypt"], "s3")],
    "AWS::SQS::Queue": [(["sqs:SendMessage"], ["kms:GenerateDataKey", "kms:Decrypt"], "sqs"),
                        (["sqs:ReceiveMessage"], ["kms:Decrypt"], "sqs")],
    "AWS::DynamoDB::Table": [(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem",
                               "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"],
                              ["kms:Decrypt"], "dynamodb")],
}


def store_key(t: Template, lid: str) -> tuple[str | None, str]:
    """(customer-managed key ARN or None, description) of a data store."""
    res = t.resources[lid]
    props = t.ev(res.get("Properties", {}))
    kind = res["Type"]
    if kind == "AWS::S3::Bucket":
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        for r in rules:
            d = r.get("ServerSideEncryptionByDefault", {})
            if str(d.get("SSEAlgorithm", "")).startswith("aws:kms"):
                k = d.get("KMSMasterKeyID")
                if k and "alias/aws/" not in str(k):
                    return str(k), f"SSE-KMS with {k}"
                return None, "SSE-KMS with the AWS-managed key aws/s3"
        return None, "SSE-S3"
    if kind == "AWS::SQS::Queue":
        k = props.get("KmsMasterKeyId")
        if k and "alias/aws/" not in str(k):
            return str(k), f"SSE-KMS with {k}"
        return None, f"{'SSE-KMS with the AWS-managed key ' + str(k) if k else 'SSE-SQS'}"
    if kind == "AWS::DynamoDB::Table":
        sse = props.get("SSESpecification", {})
        k = sse.get("KMSMasterKeyId")
        if sse.get("SSEEnabled") in (True, "true") and k and "alias/aws/" not in str(k):
            return str(k), f"KMS with {k}"
        return None, ("KMS with the AWS-managed key aws/dynamodb" if sse.get("SSEEnabled") in (True, "true")
                      else "the AWS-owned key")
    return None, ""


def check_path(doc: dict, path: DeployPath) -> tuple[list[str], list[str]]:
    t = Template(doc, path.params)
    errors: list[str] = []
    summary: list[str] = []
    tag = f"[{path.name.split(' (')[0]}]"
    functions = [lid for lid, r in t.resources.items() if r.get("Type") == "AWS::Lambda::Function" and t.exists(lid)]
    esms = [r for lid, r in t.resources.items() if r.get("Type") == "AWS::Lambda::EventSourceMapping" and t.exists(lid)]
    reads = decrypts = passes = 0
    roles: dict[str, str] = {}
    for lid in functions:
        props = t.resources[lid].get("Properties", {})
        fname = function_label(t, lid)
        role = props.get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            errors.append(f"{tag} {fname}: its role is not defined in the template; cannot check it")
            continue
        role_id = role["Fn::GetAtt"][0]
        roles[lid] = role_id
        statements = t.role_statements(role_id)
        wanted: list[tuple[str, str]] = []  # (secret ARN, how it is read)
        env = t.ev(props.get("Environment", {})).get("Variables", {})
        for var, value in sorted(env.items()):
            if SECRET_ENV.search(var):
                wanted.append((str(value), f"env {var}"))
        for esm in esms:
            ep = esm.get("Properties", {})
            fn = ep.get("FunctionName")
            if fn not in ({"Ref": lid}, {"Fn::GetAtt": [lid, "Arn"]}) and t.ev(fn) != t.physical_name(lid):
                continue
            for sac in t.ev(ep.get("SourceAccessConfigurations", [])):
                if sac.get("Type") in SECRET_ACCESS_TYPES:
                    wanted.append((str(sac.get("URI")), f"event source mapping {sac.get('Type')}"))
        for var, service in PASSED_ROLE_ENV.items():
            if var not in env:
                continue
            passes += 1
            passed = str(env[var])
            if not allowed(statements, "iam:PassRole", passed, {"iam:PassedToService": service}):
                errors.append(f"{tag} {fname}: hands role {passed} (env {var}) to {service} but role {role_id} "
                              "has no Allow of iam:PassRole on it for that service")
        for secret, how in wanted:
            reads += 1
            label = path.labels.get(secret, secret)
            if not allowed(statements, "secretsmanager:GetSecretValue", secret):
                errors.append(f"{tag} {fname}: reads secret {label} ({how}) but role {role_id} has no Allow of "
                              f"secretsmanager:GetSecretValue on it")
            if secret not in path.secret_keys:
                summary.append(f"{fname}: {how} = {secret} is not a secret of the stack's parameters; "
                               "its key is not known (assumed AWS-managed)")
                continue
            key = path.secret_keys[secret]
            if key is None:
                continue
            decrypts += 1
            kinfo = path.key_policies.get(key, {"iam": True, "everyone": False, "label": key})
            klabel = path.labels.get(key, kinfo["label"])
            ctx = {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
            if kinfo["everyone"]:
                continue
            if not allowed(statements, "kms:Decrypt", key, ctx):
                errors.append(f"{tag} {fname}: reads secret {label} ({how}), encrypted with KMS key {klabel}, "
                              f"but role {role_id} has no kms:Decrypt on that key (through Secrets Manager)")
            elif not kinfo["iam"]:
                errors.append(f"{tag} {fname}: role {role_id} has kms:Decrypt on {klabel}, but that key's policy "
                              "does not let IAM policies grant use of the key (no account root statement)")
    # roles a service assumes, with the source it names: EventBridge Scheduler names the
    # schedule *group* as aws:SourceArn, so a condition on a schedule's ARN (or a name prefix)
    # never matches and the scheduler can never assume the role (the emulator does not
    # evaluate trust policies)
    for lid, res in t.resources.items():
        if res.get("Type") != "AWS::IAM::Role" or not t.exists(lid):
            continue
        trust = t.ev(res.get("Properties", {}).get("AssumeRolePolicyDocument", {}))
        for st in _as_list(trust.get("Statement")):
            services = _as_list((st.get("Principal") or {}).get("Service"))
            if "scheduler.amazonaws.com" not in services:
                continue
            for op, pairs in (st.get("Condition") or {}).items():
                for key, values in pairs.items():
                    if key.lower() != "aws:sourcearn":
                        continue
                    for value in _as_list(values):
                        if ":schedule-group/" not in str(value):
                            errors.append(f"{tag} {lid}: EventBridge Scheduler assumes it naming the schedule group "
                                          f"as aws:SourceArn, but its trust policy's {op} names {value}")
    # data stores of the template encrypted with a customer-managed key
    stores = []
    for lid, res in t.resources.items():
        if res.get("Type") not in STORE_NEEDS or not t.exists(lid):
            continue
        key, how = store_key(t, lid)
        stores.append(f"{lid}: {how}")
        if key is None:
            continue
        arn = t.get_att(lid, "Arn")
        for flid, role_id in roles.items():
            statements = t.role_statements(role_id)
            for data_actions, kms_actions, service in STORE_NEEDS[res["Type"]]:
                if not writes_or_reads(statements, data_actions, arn):
                    continue
                ctx = {"kms:ViaService": f"{service}.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
                for ka in kms_actions:
                    if not allowed(statements, ka, key, ctx):
                        errors.append(f"{tag} {function_label(t, flid)}: uses {lid} ({'/'.join(data_actions[:2])}), "
                                      f"encrypted with {key}, but role {role_id} has no {ka} on that key "
                                      f"(through {service})")
    summary.insert(0, f"{len(functions)} functions; {reads} secret reads checked for secretsmanager:GetSecretValue, "
                      f"{decrypts} of them under a customer-managed key checked for kms:Decrypt; "
                      f"{passes} role(s) handed to a service checked for iam:PassRole")
    summary.append("data stores: " + "; ".join(stores))
    return errors, summary


def translate(template: Path, out: Path) -> None:
    sam_python = Path(os.environ.get("CAREFLOW_SAM_PYTHON", ROOT / ".local" / "sam-venv" / "bin" / "python"))
    if not sam_python.exists():
        sys.exit(f"check_iam_grants.py: {sam_python} is missing (scripts/check-infra.sh creates the SAM venv), "
                 "or pass --translated FILE")
    subprocess.run([str(sam_python), str(HERE / "sam_translate.py"), str(template), "--out", str(out)], check=True)


def run(doc: dict, tf_root: Path | None, quiet: bool = False) -> list[str]:
    errors: list[str] = []
    paths = sam_paths(doc)
    if tf_root is not None and tf_root.is_dir():
        tp, terrors = terraform_path(doc, tf_root)
        errors += terrors
        if tp:
            paths.append(tp)
    elif not quiet:
        log(f"no Terraform directory {tf_root}: only the SAM paths are checked")
    for p in paths:
        perrors, summary = check_path(doc, p)
        errors += perrors
        if not quiet:
            log(f"path {p.name}:")
            for line in p.notes + summary:
                print(f"    {line}")
            print(f"    {'OK' if not perrors else f'{len(perrors)} missing permission(s)'}")
    return errors


# ------------------------------------------------------------------------------ self-test


def _drop_statements(doc: dict, role_id: str, predicate) -> int:
    """Removes from a role's inline policies, and detaches from it the template's managed
    policies, every statement for which predicate(statement JSON text) holds."""
    removed = 0
    res = doc["Resources"]
    props = res[role_id]["Properties"]
    kept_policies = []
    for pol in props.get("Policies", []):
        sts = _as_list(pol.get("PolicyDocument", {}).get("Statement"))
        keep = [s for s in sts if not predicate(json.dumps(s))]
        removed += len(sts) - len(keep)
        if keep:
            pol["PolicyDocument"]["Statement"] = keep
            kept_policies.append(pol)
    props["Policies"] = kept_policies
    hits = {lid for lid, r in res.items() if r.get("Type") in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
            and predicate(json.dumps(r.get("Properties", {}).get("PolicyDocument", {})))}
    arns = props.get("ManagedPolicyArns", [])
    props["ManagedPolicyArns"] = [a for a in arns if not any(f'"Ref": "{h}"' in json.dumps(a) for h in hits)]
    removed += len(arns) - len(props["ManagedPolicyArns"])
    for h in hits:
        roles = res[h].get("Properties", {}).get("Roles")
        if roles:
            before = len(roles)
            res[h]["Properties"]["Roles"] = [r for r in roles if r != {"Ref": role_id}]
            removed += before - len(res[h]["Properties"]["Roles"])
    return removed


def self_test(template: Path, tf_root: Path) -> int:
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="check-iam-grants-") as tmp:
        tmpd = Path(tmp)
        translated = tmpd / "translated.json"
        translate(template, translated)
        good = json.loads(translated.read_text())
        tf_copy = tmpd / "terraform"
        shutil.copytree(tf_root, tf_copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
        baseline = set(run(good, tf_copy, quiet=True))
        if baseline:
            failures.append(f"the real inputs already fail ({len(baseline)} errors); the mutations below are "
                            "checked only for errors the real inputs do not have")

        def expect(what: str, doc: dict, tf: Path, *needles: str) -> None:
            new = [e for e in run(doc, tf, quiet=True) if e not in baseline]
            if not any(all(n in e for n in needles) for e in new):
                failures.append(f"{what}: no new error containing {needles}; new errors: {new or 'none'}")
            else:
                print(f"  ok: {what}")

        # 1. auth-login's GetSecretValue on the signing key removed.
        broken = copy.deepcopy(good)
        n = _drop_statements(broken, "AuthLoginFunctionRole",
                             lambda s: "secretsmanager:GetSecretValue" in s and "SigningKeySecretArn" in s)
        if not n:
            failures.append("mutation 1: AuthLoginFunctionRole has no GetSecretValue statement on SigningKeySecretArn")
        expect("GetSecretValue on the signing key removed from auth-login's role", broken, tf_copy,
               "auth-login", "SigningKeySecretArn", "secretsmanager:GetSecretValue")
        # 2. billing-consumer's kms grant removed.
        broken = copy.deepcopy(good)
        n = _drop_statements(broken, "BillingConsumerFunctionRole", lambda s: "kms:Decrypt" in s)
        if not n:
            failures.append("mutation 2: BillingConsumerFunctionRole has no kms:Decrypt statement to remove")
        expect("kms:Decrypt removed from billing-consumer's role (Terraform path)", broken, tf_copy,
               "[Terraform]", "billing-consumer", "KafkaCredentialsSecretArn", "kms:Decrypt")
        expect("kms:Decrypt removed from billing-consumer's role (SAM + key path)", broken, tf_copy,
               f"[SAM alone + {SECRETS_KEY_PARAMETER}]", "billing-consumer", "DatabaseSecretArn", "kms:Decrypt")
        # 3. Terraform no longer passes the secrets' key to the stack.
        tf3 = tmpd / "terraform-no-key"
        shutil.copytree(tf_copy, tf3)
        main = tf3 / "modules" / "careflow" / "main.tf"
        text = main.read_text()
        stripped = re.sub(rf"(?m)^\s*{SECRETS_KEY_PARAMETER}\s*=.*\n", "", text)
        if stripped == text:
            failures.append(f"mutation 3: modules/careflow/main.tf does not pass {SECRETS_KEY_PARAMETER}")
        main.write_text(stripped)
        expect(f"{SECRETS_KEY_PARAMETER} not passed by Terraform", good, tf3,
               "[Terraform]", "auth-login", "SigningKeySecretArn", "kms:Decrypt")
        # 4. The key policy without the account root statement.
        tf4 = tmpd / "terraform-key-policy"
        shutil.copytree(tf_copy, tf4)
        kms = tf4 / "modules" / "kms" / "main.tf"
        text = kms.read_text()
        kms.write_text(text.replace(":root\"", ":role/key-admin\""))
        expect("key policy without the account root statement", good, tf4,
               "[Terraform]", "migrate", "does not let IAM policies grant use of the key")
        # 5. The lab bucket on a customer-managed key.
        broken = copy.deepcopy(good)
        rules = broken["Resources"]["LabReportsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        rules[0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/lab-bucket-cmk"
        expect("lab bucket on a customer-managed key: presigned uploads", broken, tf_copy,
               "lab-upload-url", "LabReportsBucket", "kms:GenerateDataKey")
        expect("lab bucket on a customer-managed key: reads", broken, tf_copy,
               "lab-processor", "LabReportsBucket", "kms:Decrypt")
        # 6. scheduling-events may no longer pass the scheduler's role.
        broken = copy.deepcopy(good)
        n = _drop_statements(broken, "SchedulingEventsFunctionRole", lambda s: "iam:PassRole" in s)
        if not n:
            failures.append("mutation 6: SchedulingEventsFunctionRole has no iam:PassRole statement to remove")
        expect("iam:PassRole removed from scheduling-events' role", broken, tf_copy,
               "scheduling-events", "SCHEDULER_ROLE_ARN", "iam:PassRole")
        # 7. The scheduler's role trusting a schedule's ARN instead of its group's.
        broken = copy.deepcopy(good)
        text = json.dumps(broken["Resources"]["SchedulerInvokeRole"]["Properties"]["AssumeRolePolicyDocument"])
        if "schedule-group/default" not in text:
            failures.append("mutation 7: SchedulerInvokeRole's trust policy names no schedule-group/default")
        broken["Resources"]["SchedulerInvokeRole"]["Properties"]["AssumeRolePolicyDocument"] = json.loads(
            text.replace("schedule-group/default", "schedule/default/careflow-*"))
        expect("the scheduler's role trusts a schedule ARN, not the group", broken, tf_copy,
               "SchedulerInvokeRole", "aws:SourceArn", "schedule/default/careflow-*")
    if failures:
        print("check_iam_grants.py self-test FAILED:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    print("check_iam_grants.py self-test ok: every broken copy was reported")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument("--terraform", type=Path, default=ROOT / "terraform")
    ap.add_argument("--translated", type=Path, help="template already translated by scripts/sam_translate.py")
    ap.add_argument("--self-test", action="store_true", help="require that broken copies of the inputs fail")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args.template, args.terraform)
    if args.translated:
        doc = json.loads(args.translated.read_text())
    else:
        with tempfile.TemporaryDirectory(prefix="check-iam-grants-") as tmp:
            out = Path(tmp) / "translated.json"
            translate(args.template, out)
            doc = json.loads(out.read_text())
    errors = run(doc, args.terraform)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors:
        print(f"check_iam_grants.py: {len(errors)} missing permission(s)", file=sys.stderr)
        return 1
    log("every secret and key a function reads is readable and decryptable by its role in every path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
