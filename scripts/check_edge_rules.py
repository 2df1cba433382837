#!/usr/bin/env python3
"""The edge's WAF web ACL is defined twice: template.yaml's EdgeWebAcl (SAM-only deployments in
us-east-1) and terraform/modules/api_edge (every Terraform environment, whose stack may be in any
region while CloudFront-scope ACLs live in us-east-1). This check reduces both to the same
summary (each rule's priority, name, statement and action; the custom response bodies; the
logging's redactions and filter; the rate limit's default) and fails on any difference, so a
rule changed in one place and not the other cannot ship.

Usage: scripts/check_edge_rules.py [--template template.yaml] [--module terraform/modules/api_edge]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
LIMIT_PARAMETER = "EdgeAuthRequestsPer5Minutes"
LIMIT_VARIABLE = "auth_requests_per_5_minutes"


def one(v: Any) -> Any:
    """bc-python-hcl2 wraps every block and attribute in a one-element list."""
    while isinstance(v, list) and len(v) == 1:
        v = v[0]
    return v


# ------------------------------------------------------------------------------ template side


def template_summary(path: Path) -> dict[str, Any]:
    template, matches = decode(str(path))
    if matches:
        sys.exit(f"check_edge_rules.py: cannot read {path}: {matches[0]}")
    resources = template["Resources"]
    acl = resources["EdgeWebAcl"]["Properties"]
    logging = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::WAFv2::LoggingConfiguration")

    def limit(v: Any) -> Any:
        return "parameter" if v == {"Ref": LIMIT_PARAMETER} else int(v)

    def statement(s: dict[str, Any]) -> dict[str, Any]:
        if "RateBasedStatement" in s:
            r = s["RateBasedStatement"]
            out = {
                "rate": limit(r["Limit"]),
                "window": int(r.get("EvaluationWindowSec", 300)),
                "key": r["AggregateKeyType"],
            }
            if "ScopeDownStatement" in r:
                b = r["ScopeDownStatement"]["ByteMatchStatement"]
                out["scope"] = {
                    "field": sorted(b["FieldToMatch"]),
                    "match": b["PositionalConstraint"],
                    "string": b["SearchString"],
                    "transforms": [(int(t["Priority"]), t["Type"]) for t in b["TextTransformations"]],
                }
            return out
        m = s["ManagedRuleGroupStatement"]
        return {
            "managed": (m["VendorName"], m["Name"]),
            "count_only": sorted(o["Name"] for o in m.get("RuleActionOverrides", []) if "Count" in o["ActionToUse"]),
        }

    def action(rule: dict[str, Any]) -> Any:
        if "OverrideAction" in rule:
            return ("override", sorted(rule["OverrideAction"]))
        block = rule["Action"]["Block"]["CustomResponse"]
        return (
            "block",
            int(block["ResponseCode"]),
            block["CustomResponseBodyKey"],
            sorted((h["Name"], str(h["Value"])) for h in block.get("ResponseHeaders", [])),
        )

    return {
        "scope": acl["Scope"],
        "default": sorted(acl["DefaultAction"]),
        "rules": [
            {"priority": int(r["Priority"]), "name": r["Name"], "statement": statement(r["Statement"]), "action": action(r)}
            for r in sorted(acl["Rules"], key=lambda r: int(r["Priority"]))
        ],
        "bodies": {
            k: (v["ContentType"], json.loads(v["Content"])) for k, v in acl.get("CustomResponseBodies", {}).items()
        },
        "redacted_headers": sorted(f["SingleHeader"]["Name"] for f in logging["RedactedFields"]),
        "log_filter": (
            logging["LoggingFilter"]["DefaultBehavior"],
            sorted(
                (f["Behavior"], f["Requirement"], sorted(c["ActionCondition"]["Action"] for c in f["Conditions"]))
                for f in logging["LoggingFilter"]["Filters"]
            ),
        ),
        "limit_default": int(template["Parameters"][LIMIT_PARAMETER]["Default"]),
    }


# ------------------------------------------------------------------------------ Terraform side


def terraform_summary(module: Path) -> dict[str, Any]:
    main = hcl2.load((module / "main.tf").open())
    variables = hcl2.load((module / "variables.tf").open())
    local_values: dict[str, Any] = {}
    for block in main.get("locals", []):
        local_values.update({k: one(v) for k, v in block.items() if not k.startswith("__")})

    def value(v: Any) -> Any:
        v = one(v)
        if isinstance(v, str):
            m = re.fullmatch(r"\$\{local\.(\w+)\.(\w+)\}", v)
            if m:
                return one(local_values[m[1]])[m[2]]
            if v == f"${{var.{LIMIT_VARIABLE}}}":
                return "parameter"
        return v

    acl = next(one(b["aws_wafv2_web_acl"])["api"] for b in main["resource"] if "aws_wafv2_web_acl" in b)
    logging = next(
        one(b["aws_wafv2_web_acl_logging_configuration"])["api"]
        for b in main["resource"]
        if "aws_wafv2_web_acl_logging_configuration" in b
    )

    def action(rule: dict[str, Any]) -> Any:
        if "override_action" in rule:
            return ("override", [k.capitalize() for k in one(rule["override_action"]) if not k.startswith("__")])
        response = one(one(one(rule["action"])["block"])["custom_response"])
        headers = response.get("response_header", [])
        headers = headers if isinstance(headers, list) else [headers]
        return (
            "block",
            int(value(response["response_code"])),
            value(response["custom_response_body_key"]),
            sorted((value(h["name"]), str(value(h["value"]))) for h in map(one, headers)),
        )

    rules = []
    for rule in acl.get("rule", []):
        rule = one(rule)
        r = one(one(rule["statement"])["rate_based_statement"])
        statement = {
            "rate": value(r["limit"]) if value(r["limit"]) == "parameter" else int(value(r["limit"])),
            "window": int(value(r.get("evaluation_window_sec", 300))),
            "key": value(r["aggregate_key_type"]),
        }
        if "scope_down_statement" in r:
            b = one(one(r["scope_down_statement"])["byte_match_statement"])
            statement["scope"] = {
                "field": sorted(
                    "UriPath" if k == "uri_path" else k for k in one(b["field_to_match"]) if not k.startswith("__")
                ),
                "match": value(b["positional_constraint"]),
                "string": value(b["search_string"]),
                "transforms": [(int(value(t["priority"])), value(t["type"])) for t in map(one, b["text_transformation"])],
            }
        rules.append({"priority": int(value(rule["priority"])), "name": value(rule["name"]), "statement": statement, "action": action(rule)})
    # The dynamic "rule" block: one rule per local.managed_rule_groups entry, priority 2 + index.
    for dynamic in acl.get("dynamic", []):
        spec = one(dynamic.get("rule"))
        if not spec:
            continue
        assert one(spec["for_each"]) == "${local.managed_rule_groups}", "unexpected dynamic rule source"
        content = one(spec["content"])
        base = int(re.fullmatch(r"\$\{(\d+) \+ rule\.key\}", one(content["priority"]))[1])
        vendor = value(one(one(content["statement"])["managed_rule_group_statement"])["vendor_name"])
        for index, group in enumerate(local_values["managed_rule_groups"]):
            rules.append(
                {
                    "priority": base + index,
                    "name": group["name"],
                    "statement": {"managed": (vendor, group["group"]), "count_only": sorted(group["count_only"])},
                    "action": action(content),
                }
            )
    filt = one(one(logging["logging_filter"])["filter"])
    conditions = filt["condition"] if isinstance(filt["condition"], list) else [filt["condition"]]
    return {
        "scope": value(acl["scope"]),
        "default": [k.capitalize() for k in one(acl["default_action"]) if not k.startswith("__")],
        "rules": sorted(rules, key=lambda r: r["priority"]),
        "bodies": {
            value(b["key"]): (value(b["content_type"]), json.loads(value(b["content"]).replace('\\"', '"')))
            for b in map(one, acl.get("custom_response_body", []))
        },
        "redacted_headers": sorted(value(one(f["single_header"])["name"]) for f in map(one, logging["redacted_fields"])),
        "log_filter": (
            value(one(logging["logging_filter"])["default_behavior"]),
            [
                (
                    value(filt["behavior"]),
                    value(filt["requirement"]),
                    sorted(value(one(one(c)["action_condition"])["action"]) for c in conditions),
                )
            ],
        ),
        "limit_default": int(
            one(next(one(v[LIMIT_VARIABLE]) for v in variables["variable"] if LIMIT_VARIABLE in v)["default"])
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--module", type=Path, default=ROOT / "terraform" / "modules" / "api_edge")
    args = parser.parse_args()
    ours, theirs = template_summary(args.template), terraform_summary(args.module)
    differences = [
        f"{key}:\n    template.yaml: {ours[key]!r}\n    {args.module}: {theirs.get(key)!r}"
        for key in ours
        if ours[key] != theirs.get(key)
    ]
    if differences:
        print("check_edge_rules.py: the two edge web ACLs differ:\n  " + "\n  ".join(differences))
        return 1
    print(
        f"check_edge_rules.py: template.yaml's EdgeWebAcl and {args.module.relative_to(ROOT)} agree "
        f"({len(ours['rules'])} rules, {len(ours['bodies'])} response bodies, logging)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
