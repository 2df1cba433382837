"""moto's server as the local AWS, refusing what AWS refuses.

    python moto_server_serial.py HOST PORT [--admin-credentials FILE]

Three things on top of the stock server:

1. One DynamoDB request at a time. moto's DynamoDB TransactWriteItems deep-copies shared table
   state without a lock, so concurrent transactions crash the stock threaded server ("dictionary
   changed size during iteration"). Real DynamoDB has no such limit. Serialising its requests
   keeps the emulator's answers correct while CareFlow's handlers still run concurrently.

2. IAM on every request, with `--admin-credentials`. The server creates an administrator
   (`careflow-local-admin`, allowed everything) before it serves, writes its access key to FILE
   for the test harness and the runner (which create tables, buckets and the functions' roles
   with it), and from the first request on checks every call against the caller's policies:
   each function runs with the credentials of its own role (scripts/function_roles.py), so a
   call its role does not allow fails with AccessDenied, as in AWS.

3. The IAM check moto leaves out or gets wrong, done as AWS does it:
   - DynamoDB calls are checked against the table's ARN (and `table/T/index/I` for a query of an
     index), not `*`; a batch is checked per table; a transaction item by item as the action it
     stands for (`Put` needs `dynamodb:PutItem`, `ConditionCheck` `dynamodb:ConditionCheckItem`).
   - Secrets Manager calls are checked against the secret's ARN, not `*`.
   - IAM resource wildcards are IAM's: `*` any run of characters, `?` exactly one, everything
     else literal (moto turns the pattern into a regular expression unescaped).
   - A signature is checked over the request's raw body (moto signed its parsed parameters,
     which failed every body-less GET).
   - A browser's presigned POST to S3 (no Authorization header: the form carries the signature)
     is authenticated like AWS does: the policy's SigV4 signature is verified with the secret of
     the access key in `x-amz-credential`, the policy must not have expired, every form field
     must satisfy the policy's conditions (key, Content-Type, `content-length-range`, ...), and
     the signer must be allowed `s3:PutObject` on the object.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import run_simple

from moto import settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam import access_control
from moto.iam.models import iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler

ADMIN_USER = "careflow-local-admin"
PARTITION = "aws"


# ------------------------------------------------------------------------------ IAM wildcards


def _iam_match(pattern: str, string: str) -> re.Match[str] | None:
    """IAM's wildcard match: `*` any run of characters, `?` one character, the rest literal."""
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern)
    )
    return re.match(f"^{regex}$", str(string), flags=re.DOTALL)


access_control.IAMPolicyStatement._match = staticmethod(_iam_match)  # type: ignore[method-assign]


def _signed_request(self: Any) -> Any:
    """The request as the client signed it. moto signs `data` when the body is empty, which for
    a body-less GET (Lambda's GetFunctionConfiguration, ApiGatewayV2's GetApis) is the request's
    headers, so every such call failed with SignatureDoesNotMatch."""
    from botocore.awsrequest import AWSRequest

    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    # A form-encoded POST (IAM, STS) reaches moto parsed: its parameters are the signed body.
    body = self._body or (self._data if self._method not in ("GET", "HEAD", "DELETE") else b"")
    request = AWSRequest(method=self._method, url=self._path, data=body, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


access_control.IAMRequestBase._create_aws_request = _signed_request  # type: ignore[method-assign]


# ------------------------------------------------------------------------------ DynamoDB


def _dynamodb_checks(action: str, body: dict[str, Any], region: str, account: str) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorises for one DynamoDB request."""

    def table_arn(name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{name}"

    if action in ("BatchWriteItem", "BatchGetItem"):
        return [(action, table_arn(t)) for t in body.get("RequestItems", {})]
    if action == "TransactWriteItems":
        per_item = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        checks = []
        for item in body.get("TransactItems", []):
            for kind, spec in item.items():
                checks.append((per_item.get(kind, kind), table_arn(spec.get("TableName", ""))))
        return checks
    if action == "TransactGetItems":
        return [("GetItem", table_arn(i["Get"]["TableName"])) for i in body.get("TransactItems", [])]
    table = body.get("TableName") or body.get("ResourceArn")
    if not table:
        return [(action, "*")]
    arn = table_arn(table)
    if action in ("Query", "Scan") and body.get("IndexName"):
        arn = f"{arn}/index/{body['IndexName']}"
    return [(action, arn)]


def _install_dynamodb_authorisation() -> None:
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler
    from werkzeug.exceptions import HTTPException

    def authorise(self: Any, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        body = self.body
        if not isinstance(body, dict):
            try:
                body = json.loads(body or "{}")
            except ValueError:
                body = {}
        region = self.region
        request = access_control.IAMRequest(
            account_id=self.current_account,
            method=self.method,
            path=self.raw_path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        for action, arn in _dynamodb_checks(self._get_action(), body, region, self.current_account):
            # One signed request, authorised once per (action, resource) it stands for.
            request._action = f"dynamodb:{action}"
            try:
                request.check_action_permitted(arn)
            except HTTPException:
                # moto answers in IAM's XML; DynamoDB's clients expect its JSON error.
                raise DynamodbException(
                    "com.amazon.coral.service#AccessDeniedException",
                    f"User: {request._access_key.arn} is not authorized to perform: "
                    f"dynamodb:{action} on resource: {arn} because no identity-based policy "
                    "allows the dynamodb:" + action + " action",
                ) from None

    DynamoHandler._authenticate_and_authorize_normal_action = authorise  # type: ignore[method-assign]


# ------------------------------------------------------------------------------ Secrets Manager


def _deny_as_json(response_cls: Any, prefix: str, suffix: Any = None) -> None:
    """Makes `response_cls` refuse with its service's JSON `AccessDeniedException` (moto raises
    an HTML 403 for JSON services): `User is not authorized to perform: {prefix}:{Action} on
    resource: {resource}`, plus `suffix(action)` when given."""
    from moto.core.exceptions import JsonRESTError
    from werkzeug.exceptions import HTTPException

    original = response_cls._authenticate_and_authorize_normal_action

    def authorise(self: Any, resource: str = "*") -> None:
        try:
            original(self, resource)
        except HTTPException:
            action = f"{prefix}:{self._get_action()}"
            message = f"User is not authorized to perform: {action} on resource: {resource}"
            raise JsonRESTError("AccessDeniedException", message + (suffix(action) if suffix else "")) from None

    response_cls._authenticate_and_authorize_normal_action = authorise


def _install_secretsmanager_authorisation() -> None:
    """Secrets Manager calls are checked against the secret's ARN (moto checks `*`, which no
    grant of one secret matches), and refused with Secrets Manager's JSON error."""
    from moto.secretsmanager.models import secretsmanager_backends
    from moto.secretsmanager.responses import SecretsManagerResponse

    def determine_resource(self: Any) -> str:
        try:
            body = json.loads(self.body or "{}") if not isinstance(self.body, dict) else self.body
        except ValueError:
            return "*"
        secret_id = body.get("SecretId")
        if not secret_id:
            return "*"
        secrets = secretsmanager_backends[self.current_account][self.region].secrets
        if secret_id in secrets:
            return secrets[secret_id].arn
        return f"arn:{PARTITION}:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"

    SecretsManagerResponse._determine_resource = determine_resource  # type: ignore[attr-defined]
    _deny_as_json(SecretsManagerResponse, "secretsmanager",
                  lambda action: f" because no identity-based policy allows the {action} action")


# ------------------------------------------------------------------------------ SES (v2)


def _install_ses_authorisation() -> None:
    """SESv2 SendEmail is checked against the sending identity's ARN, as SES does (moto checks
    `*`, which no grant of one identity matches): the sender's domain identity when there is
    one, else the address's own. Refused with SES's JSON error."""
    from moto.sesv2.responses import SESV2Response

    def determine_resource(self: Any) -> str:
        try:
            body = json.loads(self.body or "{}") if not isinstance(self.body, dict) else self.body
        except ValueError:
            return "*"
        sender = body.get("FromEmailAddress") if isinstance(body, dict) else None
        if not sender or "@" not in sender:
            return "*"
        from moto.sesv2.models import sesv2_backends

        backend = sesv2_backends[self.current_account][self.region]
        identities = backend.core_backend.email_identities
        domain = sender.rsplit("@", 1)[1]
        identity = domain if domain in identities or sender not in identities else sender
        return f"arn:{PARTITION}:ses:{self.region}:{self.current_account}:identity/{identity}"

    SESV2Response._determine_resource = determine_resource  # type: ignore[attr-defined]
    _deny_as_json(SESV2Response, "ses")


# ------------------------------------------------------------------------------ EventBridge Scheduler


def _install_scheduler_authorisation() -> None:
    """Scheduler calls on one schedule are checked against its ARN
    (`schedule/{group}/{name}`), as AWS does (moto checks `*`, which no grant of a name prefix
    matches), and refused with the scheduler's JSON error. (AWS also asks for `iam:PassRole` on
    a target's role at CreateSchedule/UpdateSchedule; the emulator does not check it:
    scripts/check_iam_grants.py does, on the template.)"""
    from urllib.parse import parse_qs, unquote, urlparse

    from moto.scheduler.responses import EventBridgeSchedulerResponse

    def determine_resource(self: Any) -> str:
        url = urlparse(self.uri)
        match = re.fullmatch(r"/schedules/([^/]+)", url.path)
        if not match:
            return "*"
        group = parse_qs(url.query).get("groupName", [None])[0]
        if not group:
            try:
                body = json.loads(self.body or "{}") if not isinstance(self.body, dict) else self.body
            except ValueError:
                body = {}
            group = body.get("GroupName") if isinstance(body, dict) else None
        name = unquote(match.group(1))
        return f"arn:{PARTITION}:scheduler:{self.region}:{self.current_account}:schedule/{group or 'default'}/{name}"

    EventBridgeSchedulerResponse._determine_resource = determine_resource  # type: ignore[attr-defined]
    _deny_as_json(EventBridgeSchedulerResponse, "scheduler")


# ------------------------------------------------------------------------------ sent mail

SENT_MAIL_PATH = "/_careflow/ses/messages"


def _sent_mail(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The messages SES "sent", for the tests and local runs: `GET /_careflow/ses/messages`
    answers `[{id, source, destinations: {ToAddresses}, subject, body, attachments:
    [{filename, content_type, content}]}]`, oldest first.
    (moto's own /moto-api/data.json serialises every model of every service, and fails once a
    model it cannot serialise exists, e.g. a Lambda function from the CloudFormation check.)"""
    import email
    import email.policy

    from moto.ses.models import Message, RawMessage, ses_backends

    messages = []
    for regions in ses_backends.values():
        for backend in regions.values():
            for m in backend.sent_messages:
                if isinstance(m, Message):
                    messages.append({"id": m.id, "source": m.source, "subject": m.subject,
                                     "body": m.body, "destinations": m.destinations,
                                     "attachments": []})
                elif isinstance(m, RawMessage):
                    # A MIME message (one with attachments): its subject, text and files.
                    parsed = email.message_from_string(m.raw_data, policy=email.policy.default)
                    text = parsed.get_body(preferencelist=("plain", "html"))
                    attachments = [
                        {"filename": part.get_filename(), "content_type": part.get_content_type(),
                         "content": part.get_content() if part.get_content_maintype() == "text"
                         else base64.b64encode(part.get_payload(decode=True)).decode()}
                        for part in parsed.iter_attachments()
                    ]
                    messages.append({"id": m.id, "source": m.source, "subject": str(parsed["subject"] or ""),
                                     "body": text.get_content() if text is not None else "",
                                     # moto adds the MIME To header's addresses to the given ones
                                     "destinations": {"ToAddresses": list(dict.fromkeys(m.destinations))},
                                     "attachments": attachments})
    body = json.dumps(messages).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


# ------------------------------------------------------------------------------ S3 presigned POST


class _PostDenied(Exception):
    def __init__(self, message: str, code: str = "AccessDenied") -> None:
        super().__init__(message)
        self.code = code


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _check_post_conditions(policy: dict[str, Any], fields: dict[str, str], bucket: str, size: int) -> None:
    expiration = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    if expiration <= dt.datetime.now(dt.timezone.utc):
        raise _PostDenied("Invalid according to Policy: Policy expired.")
    checked = {"bucket"}
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            for name, value in condition.items():
                checked.add(name.lower())
                actual = bucket if name.lower() == "bucket" else fields.get(name.lower())
                if actual != value:
                    raise _PostDenied(f"Invalid according to Policy: Policy Condition failed: [\"eq\", \"${name}\", \"{value}\"]")
            continue
        op = str(condition[0]).lower()
        if op == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size > high:
                raise _PostDenied("Your proposed upload exceeds the maximum allowed size", "EntityTooLarge")
            if size < low:
                raise _PostDenied("Your proposed upload is smaller than the minimum allowed size", "EntityTooSmall")
            continue
        name = str(condition[1]).lstrip("$").lower()
        checked.add(name)
        actual = bucket if name == "bucket" else fields.get(name, "")
        if op == "eq" and actual != condition[2]:
            raise _PostDenied(f"Invalid according to Policy: Policy Condition failed: [\"eq\", \"${name}\", \"{condition[2]}\"]")
        if op == "starts-with" and not actual.startswith(condition[2]):
            raise _PostDenied(f"Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"${name}\", \"{condition[2]}\"]")
    # Every field of the form (but the signature fields and the file) must be named by the policy.
    exempt = {"policy", "x-amz-signature", "file"}
    for name in fields:
        if name in exempt or name.startswith("x-ignore-") or name in checked:
            continue
        raise _PostDenied(f"Invalid according to Policy: Extra input fields: {name}")


def _authorise_presigned_post(handler: Any, bucket: str) -> None:
    # The form as the client sent it (moto adds routing keys of its own to `querystring`).
    fields = {k.lower(): v for k, v in handler.form_data.items()}
    credential = fields.get("x-amz-credential")
    policy_b64 = fields.get("policy")
    signature = fields.get("x-amz-signature")
    if not credential or not policy_b64 or not signature:
        raise _PostDenied("the POST form carries no SigV4 policy signature")
    access_key_id, date, region, service, _ = (credential.split("/") + [""] * 5)[:5]
    token = fields.get("x-amz-security-token")
    headers = {"X-Amz-Security-Token": token} if token else {}
    try:
        key = access_control.create_access_key(
            account_id=handler.current_account,
            partition=PARTITION,
            access_key_id=access_key_id,
            headers=headers,
        )
    except access_control.CreateAccessKeyFailure as e:
        raise _PostDenied(f"The AWS Access Key Id you provided does not exist in our records ({e.reason}).")
    secret = key.create_credentials().secret_key
    expected = hmac.new(_signing_key(secret, date, region, service), policy_b64.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise _PostDenied("The request signature we calculated does not match the signature you provided.")
    policy = json.loads(base64.b64decode(policy_b64))
    size = len(handler.body or b"")
    _check_post_conditions(policy, fields, bucket, size)
    object_key = fields.get("key", "")
    resource = f"arn:{PARTITION}:s3:::{bucket}/{object_key}"
    permitted = False
    for document in key.collect_policies():
        result = access_control.IAMPolicy(document).is_action_permitted("s3:PutObject", resource)
        if result == access_control.PermissionResult.DENIED:
            raise _PostDenied("Access Denied")
        permitted = permitted or result == access_control.PermissionResult.PERMITTED
    if not permitted:
        raise _PostDenied("Access Denied")


def _install_s3_post_authorisation() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    original = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action

    def authorise(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        form_upload = (
            self.method == "POST"
            and "Authorization" not in self.headers
            and self.data.get("Action") == "PutObject"
            and bucket_name is not None
        )
        counting = ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT
        if form_upload and not counting:
            try:
                _authorise_presigned_post(self, bucket_name)
            except _PostDenied as e:
                raise S3ClientError(e.code, str(e)) from None
            return
        original(self, bucket_name=bucket_name, key_name=key_name)

    S3Response._authenticate_and_authorize_s3_action = authorise  # type: ignore[method-assign]


# ------------------------------------------------------------------------------ bootstrap


def _create_admin(path: Path) -> None:
    """An administrator to set the emulator up with; its key goes to `path` (mode 600)."""
    backend = iam_backends[DEFAULT_ACCOUNT_ID][PARTITION]
    if ADMIN_USER not in backend.users:
        backend.create_user("us-east-1", ADMIN_USER)
        backend.put_user_policy(
            ADMIN_USER,
            "administrator",
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        )
    key = backend.create_access_key(ADMIN_USER)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(
            {"account_id": DEFAULT_ACCOUNT_ID, "access_key_id": key.access_key_id, "secret_access_key": key.secret_access_key},
            out,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--admin-credentials", type=Path, help="enforce IAM; write the admin's key here")
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    _install_dynamodb_authorisation()
    _install_secretsmanager_authorisation()
    _install_s3_post_authorisation()
    _install_ses_authorisation()
    _install_scheduler_authorisation()
    if args.admin_credentials:
        _create_admin(args.admin_credentials)
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") == SENT_MAIL_PATH and environ.get("REQUEST_METHOD") == "GET":
            return _sent_mail(environ, start_response)
        # Only DynamoDB needs the lock. Other services keep moto's threads: an SQS long poll
        # (the runner's S3 relay waits a second) must not hold every other request back.
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return list(app(environ, start_response))
        with lock:
            # Materialise the body inside the lock: the app's state is read while iterating.
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, serial, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
