"""Translates template.yaml into plain CloudFormation JSON, offline, as `sam deploy` would.

Run with the SAM CLI's venv (it ships aws-sam-translator, the library the SAM CLI uses):

    .local/sam-venv/bin/python scripts/sam_translate.py [template.yaml] [--out FILE]

Every `AWS::Serverless::*` resource becomes its CloudFormation resources, and every function role
gets its policies expanded (policy templates such as `AWSSecretsManagerGetSecretValuePolicy`
included). CodeUris are replaced by an `s3://` URI, as after `sam package`: the translator refuses
local paths. Managed policies named by their short name are not looked up (that needs IAM); the
template names them by ARN.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

PACKAGED_CODE_URI = "s3://careflow-artifacts/functions/code.zip"


class _NoManagedPolicies:
    """The translator asks for the account's managed policies only for names without an ARN."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template_path: Path) -> dict[str, Any]:
    """The template as CloudFormation would receive it after the SAM transform."""
    template = yaml_parse(template_path.read_text())
    packaged = copy.deepcopy(template)
    for resource in packaged.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = PACKAGED_CODE_URI
    return transform(packaged, {}, _NoManagedPolicies())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    args = parser.parse_args()
    translated = json.dumps(translate(args.template), indent=1, sort_keys=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(translated + "\n")
    else:
        sys.stdout.write(translated + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
