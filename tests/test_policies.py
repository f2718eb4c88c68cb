"""The IAM policy of each function grants what its code calls, and nothing more.

Every API route and every resize outcome runs against moto while a botocore
hook records each call (presigned ones included) as the IAM action and ARN it
needs. Each call must be allowed by the function's rendered policy, each
(action, resource) the policy grants must have been needed by some call, and
every boto3 method that chalicelib calls must have run (so the exercise
covers the code). Lambda's own use of the role is listed in PLATFORM.
"""

import ast
import fnmatch
import functools
import io
import json
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

import boto3
import pytest
from botocore import xform_name
from botocore.stub import Stubber

from deploy.policies import FUNCTIONS, function_name, function_values, policy_template, render
from tests.conftest import TEST_ENV, invoke_handler, reset_app_clients
from tests.images import jpeg
from tests.receiver import Receiver

ACCOUNT, REGION = "000000000000", "us-east-1"  # placeholders, not a real account
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:imgpipe-test-resize-failures"
VALUES = {
    "InputBucket": TEST_ENV["INPUT_BUCKET"],
    "OutputBucket": TEST_ENV["OUTPUT_BUCKET"],
    "StatusTable": TEST_ENV["STATUS_TABLE"],
    "DeadLetterQueueArn": DLQ,
    "EventBusName": "imgpipe-test",
    "WebhookSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:imgpipe/test/webhook-AbCdEf",
    "VariantSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:imgpipe/test/variants-AbCdEf",
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
}
STAGE = "test"
# Used by Lambda with the function's role, not by our code: CloudWatch Logs
# (checked on its own below), and the on-failure destination of async events.
PLATFORM = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}
# boto3 calls whose IAM action is not s3:/dynamodb: plus the operation name.
S3_ACTIONS = {"HeadObject": "s3:GetObject", "HeadBucket": "s3:ListBucket", "DeleteObjects": "s3:DeleteObject"}
CHALICELIB = Path(__file__).resolve().parents[1] / "chalicelib"
def needed(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one boto3 call needs."""
    if service == "s3":
        action = S3_ACTIONS.get(operation, f"s3:{operation}")
        bucket = f"arn:aws:s3:::{params['Bucket']}"
        if operation == "HeadBucket":
            return [(action, bucket)]
        if operation in ("HeadObject", "GetObject"):
            # Without ListBucket a missing key answers 403, not the 404 that storage
            # reads as "deleted before we got here" (source_info, read_output, read_source).
            return [(action, f"{bucket}/{params['Key']}"), ("s3:ListBucket", bucket)]
        if operation == "ListObjectsV2":
            return [("s3:ListBucket", bucket)]
        if operation == "DeleteObjects":
            return [(action, f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
        return [(action, f"{bucket}/{params['Key']}")]
    if service == "dynamodb" and operation == "BatchGetItem":
        return [(f"dynamodb:{operation}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
                for name in params["RequestItems"]]
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
        if "IndexName" in params:
            table += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", table)]
    if service == "lambda" and operation == "Invoke":
        name = params["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return [("lambda:InvokeFunction", arn)]
    if service == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        return [("events:PutEvents", bus if bus.startswith("arn:") else
                 f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}") for bus in buses]
    if service == "secretsmanager" and operation == "GetSecretValue":
        return [("secretsmanager:GetSecretValue", params["SecretId"])]
    raise AssertionError(f"no IAM mapping for {service}.{operation}: add one, and to the policy")


def grants(function: str) -> list[tuple[str, str]]:
    policy = render(policy_template(function), {**VALUES, **function_values(STAGE, function)})
    pairs = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions, resources = statement["Action"], statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if isinstance(resources, str) else resources:
                pairs.append((action, resource))
    return pairs


class Recorder:
    """Records, per function, the IAM needs of every boto3 call made."""

    def __init__(self) -> None:
        self._function = "none"
        self.calls: dict[str, set[tuple[str, str]]] = {}
        self.methods: set[str] = set()
        self.callback_url = ""  # a webhook receiver, for the uploads whose final state signs one

    @property
    def function(self) -> str:
        return self._function

    @function.setter
    def function(self, name: str) -> None:
        """Each function is a Lambda of its own: switching is a cold start (clients, cached secret)."""
        if name != self._function:
            reset_app_clients()
        self._function = name

    def __call__(self, params: dict, model, context: dict | None = None, **_) -> None:
        service, operation = model.service_model.endpoint_prefix, model.name
        if (context or {}).get("is_presign_request") and operation == "CreateBucket":
            self.methods.add("generate_presigned_post")  # its key: see exercise_api
            return
        self.methods.add(xform_name(operation))
        self.calls.setdefault(self.function, set()).update(needed(service, operation, params))


@pytest.fixture
def recorder(aws, monkeypatch):
    rec = Recorder()
    # The stage's bus and webhook secret, and a receiver: final states publish and sign.
    boto3.client("events", region_name=REGION).create_event_bus(Name=VALUES["EventBusName"])
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="imgpipe/test/webhook", SecretString="test-secret")["ARN"]
    monkeypatch.setitem(VALUES, "WebhookSecretArn", secret)  # moto's ARN, granted as the stack's would be
    variants = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="imgpipe/test/variants", SecretString="variant-secret")["ARN"]
    monkeypatch.setitem(VALUES, "VariantSecretArn", variants)
    monkeypatch.setenv("VARIANT_SECRET_ARN", variants)
    for name, value in (("EVENT_BUS_NAME", VALUES["EventBusName"]), ("WEBHOOK_SECRET_ARN", secret),
                        ("UNSAFE_LOCAL_WEBHOOKS", "true")):
        monkeypatch.setenv(name, value)
    events = boto3._get_default_session().events
    events.register("provide-client-params.*.*", rec)
    with Receiver() as receiver:
        rec.callback_url = receiver.url
        yield rec
    events.unregister("provide-client-params.*.*", rec)


def stub_resize_invokes(monkeypatch) -> None:
    """moto runs no Lambda code: the API's async invoke is answered by botocore's Stubber
    (after the recorder has seen the call's parameters)."""
    import app as app_module
    from chalicelib.invoke import ResizeInvoker

    lambda_client = boto3.client("lambda", region_name=REGION)
    stubber = Stubber(lambda_client)
    stubber.add_response("invoke", {"StatusCode": 202})
    stubber.activate()
    invoker = ResizeInvoker(lambda_client, function_name(STAGE, "resize_image"))
    monkeypatch.setattr(app_module.services, "invoker", functools.cache(lambda: invoker))


def route_renders(rec: Recorder, monkeypatch) -> None:
    """moto runs no Lambda code: the API's synchronous invoke of the render function is answered
    by botocore's Stubber (after the recorder has seen it), and the render then runs as the
    render function, with its own clients."""
    import app as app_module
    from chalicelib.ondemand import VariantService
    from chalicelib.render import LambdaRenderer

    lambda_client = boto3.client("lambda", region_name=REGION)
    stubber = Stubber(lambda_client)
    stubber.activate()

    class RenderFunction:
        def invoke(self, **params):
            stubber.add_response("invoke", {"StatusCode": 200})
            lambda_client.invoke(**params)
            rec.function = "render_variant"
            answer = app_module.render_variant(json.loads(params["Payload"]), None)
            rec.function = "api_handler"
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    api = app_module.get_variants()
    render = LambdaRenderer(RenderFunction(), function_name(STAGE, "render_variant")).render  # type: ignore[arg-type]
    service = VariantService(api.settings, api.storage, api.store, api.secret, render=render)
    monkeypatch.setattr(app_module.services, "variants", functools.cache(lambda: service))


def exercise_api(client, aws, rec: Recorder, monkeypatch) -> None:
    from chalicelib.storage import S3Storage

    rec.function = "api_handler"
    created = client.http.post(
        "/uploads", headers={"Content-Type": "application/json"},
        body=json.dumps({"filename": "cat.jpg", "content_type": "image/jpeg", "callback_url": rec.callback_url}),
    ).json_body
    # A presigned POST grants PutObject on its key; botocore's event does not carry it.
    key = created["upload"]["fields"]["key"]
    rec.calls["api_handler"].add(("s3:PutObject", f"arn:aws:s3:::{TEST_ENV['INPUT_BUCKET']}/{key}"))
    aws.put(key, jpeg(1600, 1200))  # large enough for variants from renditions
    run_resize(client, rec, key)
    rec.function = "api_handler"
    image = f"/images/{created['image_id']}"
    assert client.http.get(image).json_body["status"] == "COMPLETE"
    assert client.http.get("/images").status_code == 200
    assert client.http.get("/images?status=COMPLETE").status_code == 200
    assert client.http.get(f"/images?key={quote_plus(key)}").status_code == 200
    assert client.http.get("/health").status_code == 200
    stub_resize_invokes(monkeypatch)
    patched = client.http.patch(image, headers={"Content-Type": "application/json"},
                                body='{"focus": {"x": 0.2, "y": 0.7}}')
    assert patched.status_code == 202, patched.json_body
    run_resize(client, rec, key)  # what the invoke delivers: the covers rendered again
    rec.function = "api_handler"
    # On-demand variants (docs/VARIANTS.md): signed by the API, rendered by the render function from
    # a rendition (w_64: `default`, w_450: `medium`) or the source (w_1000), stored once; then one whose image is deleted while it
    # renders (the render removes what it stored).
    route_renders(rec, monkeypatch)
    for width in (64, 450, 1000):
        signed = client.http.post(f"{image}/variants", headers={"Content-Type": "application/json"},
                                  body=json.dumps({"width": width})).json_body
        assert client.http.get(urlsplit(signed["url"]).path).status_code == 302
    signed = client.http.post(f"{image}/variants", headers={"Content-Type": "application/json"},
                              body='{"width": 32}').json_body
    write = S3Storage.write_new_output  # the render function's storage is made at its cold start

    def deleted_while_rendering(storage, *args):
        stored = write(storage, *args)
        rec.function = "api_handler"
        assert client.http.delete(image).status_code == 204
        rec.function = "render_variant"
        return stored

    monkeypatch.setattr(S3Storage, "write_new_output", deleted_while_rendering)
    assert client.http.get(urlsplit(signed["url"]).path).status_code == 404
    aws.put(key, jpeg())  # the upload URL used after the delete: resize deletes the late source
    run_resize(client, rec, key)


def run_resize(client, rec: Recorder, key: str) -> None:
    rec.function = "resize_image"
    event = client.events.generate_s3_event(bucket=TEST_ENV["INPUT_BUCKET"], key=quote_plus(key, safe="/"))
    invoke_handler(client, event)


def run_removed(client, aws, rec: Recorder, key: str) -> None:
    """A processed image whose source is then deleted: the resize function cleans up."""
    aws.put(key, jpeg())
    run_resize(client, rec, key)
    aws.s3.delete_object(Bucket=TEST_ENV["INPUT_BUCKET"], Key=key)
    event = client.events.generate_s3_event(bucket=TEST_ENV["INPUT_BUCKET"], key=quote_plus(key, safe="/"),
                                            event_name="ObjectRemoved:Delete")
    invoke_handler(client, event)


def run_sweeper(client, aws, rec: Recorder, monkeypatch) -> None:
    """An upload that never came and two whose events were lost (one not an image), an hour later."""
    import time

    import app as app_module

    rec.function = "api_handler"
    for name, body in (("never.jpg", None), ("lost.jpg", jpeg()), ("broken-lost.jpg", b"not an image")):
        _, key = upload(client, rec, name, hooked=body is None)  # the expiry is signed and sent
        if body is not None:
            aws.put(key, body)
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    rec.function = "sweep_stuck_images"
    monkeypatch.setattr(app_module.get_pipeline(), "clock", lambda: later)
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    client.lambda_.invoke("sweep_stuck_images", event)


def batch_event(*keys: str) -> dict:
    """An S3 Batch Operations invocation (schema 2.0), as `reprocess --batch` starts them."""
    tasks = [{"taskId": f"t{n}", "s3Bucket": TEST_ENV["INPUT_BUCKET"], "s3Key": quote_plus(key, safe="/"),
              "s3VersionId": None} for n, key in enumerate(keys)]
    return {"invocationSchemaVersion": "2.0", "invocationId": "i", "job": {"id": "j", "userArguments": {}},
            "tasks": tasks}


def upload(client, rec: Recorder, name: str, hooked: bool = False) -> tuple[str, str]:
    """(image path, source key) of a fresh upload through the API; `hooked`: with a callback_url."""
    rec.function = "api_handler"
    body = {"filename": name, "content_type": "image/jpeg", **({"callback_url": rec.callback_url} if hooked else {})}
    created = client.http.post("/uploads", headers={"Content-Type": "application/json"},
                               body=json.dumps(body)).json_body
    return f"/images/{created['image_id']}", created["upload"]["fields"]["key"]


def run_backfill(client, aws, rec: Recorder, monkeypatch) -> None:
    """Through backfill_image: a finished image rendered again, one whose event was lost (its
    first final state: published and signed), a broken one, one never uploaded, a late upload
    of a deleted image, and an image deleted while it is re-rendered."""
    import app as app_module

    for key, body in (("again.jpg", jpeg()), ("broken-again.jpg", b"not an image")):
        aws.put(key, body)
        run_resize(client, rec, key)
    _, hooked = upload(client, rec, "hooked.jpg", hooked=True)
    aws.put(hooked, jpeg())
    late_image, late = upload(client, rec, "late.jpg")
    assert client.http.delete(late_image).status_code == 204
    aws.put(late, jpeg())
    racing_image, racing = upload(client, rec, "racing.jpg")
    aws.put(racing, jpeg())
    run_resize(client, rec, racing)

    rec.function = "backfill_image"
    store = app_module.get_status_store()
    complete = store.complete

    def deleted_meanwhile(claim, *args):
        if claim.image_id == racing_image.rsplit("/", 1)[1]:
            rec.function = "api_handler"
            assert client.http.delete(racing_image).status_code == 204
            rec.function = "backfill_image"
        return complete(claim, *args)

    monkeypatch.setattr(store, "complete", deleted_meanwhile)
    keys = ("again.jpg", hooked, "broken-again.jpg", "gone.jpg", late, racing)
    response = client.lambda_.invoke("backfill_image", batch_event(*keys))
    codes = [r["resultCode"] for r in response.payload["results"]]
    assert codes == ["Succeeded"] * 2 + ["PermanentFailure"] * 4, response.payload
    assert [r["resultString"] for r in response.payload["results"][4:]] == ["Not processed (deleted)."] * 2


def test_each_function_is_granted_exactly_what_it_calls(aws, client, recorder, monkeypatch):
    exercise_api(client, aws, recorder, monkeypatch)
    aws.put("broken.jpg", b"not an image")
    run_resize(client, recorder, "broken.jpg")
    run_resize(client, recorder, "deleted-before-the-event.jpg")
    run_removed(client, aws, recorder, "removed.jpg")
    run_sweeper(client, aws, recorder, monkeypatch)
    run_backfill(client, aws, recorder, monkeypatch)

    for function in FUNCTIONS:
        granted, calls = grants(function), recorder.calls[function]
        denied = sorted(
            (a, arn) for a, arn in calls if not any(a == ga and fnmatch.fnmatchcase(arn, gr) for ga, gr in granted)
        )
        unused = sorted(
            (ga, gr) for ga, gr in granted
            if ga not in PLATFORM
            and not any(a == ga and fnmatch.fnmatchcase(arn, gr) for a, arn in calls)
        )
        assert not denied, f"{function} calls what its policy does not grant: {denied}"
        assert not unused, f"{function}'s policy grants what it never calls: {unused}"


def boto3_methods_in_chalicelib() -> set[str]:
    """Methods called on the S3 client or DynamoDB table held by the adapters."""
    methods = set()
    for path in CHALICELIB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr in ("_s3", "_table")
            ):
                methods.add(node.func.attr)
    return methods


def test_the_exercise_covers_every_boto3_call_the_code_makes(aws, client, recorder, monkeypatch):
    exercise_api(client, aws, recorder, monkeypatch)
    run_resize(client, recorder, "deleted-before-the-event.jpg")
    run_removed(client, aws, recorder, "removed.jpg")
    run_sweeper(client, aws, recorder, monkeypatch)
    run_backfill(client, aws, recorder, monkeypatch)
    in_code = {"describe_table" if m == "load" else m for m in boto3_methods_in_chalicelib()}
    in_code = {"get_object" if m == "generate_presigned_url" else m for m in in_code}
    assert in_code, "found no boto3 calls: did the adapters rename their client attributes?"
    assert in_code <= recorder.methods, f"not exercised: {sorted(in_code - recorder.methods)}"


def test_each_function_writes_only_to_its_own_log_group():
    """The log group is created (with retention) by the stack, never by the role."""
    for function in FUNCTIONS:
        own = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{function_name(STAGE, function)}:*"
        logs = sorted(pair for pair in grants(function) if pair[0].startswith("logs:"))
        assert logs == [("logs:CreateLogStream", own), ("logs:PutLogEvents", own)], function
    assert function_name("dev", "api_handler") == "imgpipe-dev"  # Chalice's name for the API function
