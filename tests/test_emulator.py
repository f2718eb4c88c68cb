"""The local stack's emulator gives DynamoDB's atomic conditional writes, and long polls don't stall it.

moto's backends are not thread-safe: one conditional update paused after its
condition passed lets another one pass the same condition. The test pauses
moto inside the first update (at the write, after the check) and drives the
second, so the outcome does not depend on a race.
"""

import json
import threading
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from imgpipe.emulator import AwsEmulator
from imgpipe.stackprocess import free_port

TABLE = "emulator-test-claims"


@pytest.fixture(scope="module")
def emulator():
    port = free_port()
    aws = AwsEmulator("127.0.0.1", port, {"local": "local"})
    aws.start()

    def client(service: str):
        return boto3.session.Session().client(
            service, region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="local", aws_secret_access_key="local")

    client("dynamodb").create_table(
        TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    client.lambda_invoke = aws.lambda_invoke  # type: ignore[attr-defined]
    client.aws = aws  # type: ignore[attr-defined]
    yield client
    aws.stop()


def claim(dynamodb, item: str, holder: str) -> str:
    """The claim pattern of chalicelib.status: win only if nobody holds the item."""
    try:
        dynamodb.update_item(TableName=TABLE, Key={"id": {"S": item}}, UpdateExpression="SET holder = :me",
                             ConditionExpression="attribute_not_exists(holder)",
                             ExpressionAttributeValues={":me": {"S": holder}})
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return "won"


def test_two_conditional_writes_on_one_item_cannot_both_win(emulator, monkeypatch):
    import moto.dynamodb.models as dynamodb_models

    checked, release = threading.Event(), threading.Event()
    real_executor = dynamodb_models.UpdateExpressionExecutor

    class PausedOnce(real_executor):
        """Runs after moto has evaluated the condition: the first update waits here."""

        def execute(self, node=None):
            if node is None and not checked.is_set():  # the top call of this recursive method
                checked.set()
                release.wait(10)
            return super().execute(node)

    monkeypatch.setattr(dynamodb_models, "UpdateExpressionExecutor", PausedOnce)
    results: dict[str, str] = {}
    image = uuid.uuid4().hex  # a fresh item on every run (the emulator lives for the module)
    first = threading.Thread(target=lambda: results.update(a=claim(emulator("dynamodb"), image, "a")))
    first.start()
    assert checked.wait(10), "the first update never reached moto"
    second = threading.Thread(target=lambda: results.update(b=claim(emulator("dynamodb"), image, "b")))
    second.start()
    # Serialised, the second cannot get into moto while the first is inside; unserialised it
    # passes the same condition and writes now.
    second.join(1)
    release.set()
    first.join(10)
    second.join(10)
    assert results == {"a": "won", "b": "ConditionalCheckFailedException"}
    item = emulator("dynamodb").get_item(TableName=TABLE, Key={"id": {"S": image}})["Item"]
    assert item["holder"] == {"S": "a"}


def test_a_long_poll_does_not_hold_the_emulator(emulator):
    """A worker waiting 5 s for messages leaves other requests free, and gets a message sent meanwhile."""
    sqs = emulator("sqs")
    url = sqs.create_queue(QueueName="emulator-test-events")["QueueUrl"]
    got: list = []
    waiting = threading.Thread(target=lambda: got.extend(emulator("sqs").receive_message(
        QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])))
    waiting.start()
    emulator("dynamodb").describe_table(TableName=TABLE)
    sqs.send_message(QueueUrl=url, MessageBody="hello")  # a poll holding the lock would keep this out for 5 s
    waiting.join(10)
    assert [m["Body"] for m in got] == ["hello"]


def test_lambda_async_invoke_of_the_resize_function_reaches_its_queue(emulator):
    """Event invocations of a known function are handed over (202); anything else is refused as
    Lambda refuses an unknown function, so the app's error handling meets AWS's shapes."""
    from imgpipe.emulator import LambdaInvoke

    aws = emulator("lambda")
    received: list[bytes] = []
    layer = emulator.lambda_invoke
    layer.functions["imgpipe-local-resize_image"] = received.append
    answer = aws.invoke(FunctionName="imgpipe-local-resize_image", InvocationType="Event",
                        Payload=b'{"a": 1}')
    assert answer["StatusCode"] == 202 and received == [b'{"a": 1}']
    arn = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-local-resize_image:$LATEST"
    assert aws.invoke(FunctionName=arn, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    for call in (dict(FunctionName="other", InvocationType="Event"),
                 dict(FunctionName="imgpipe-local-resize_image", InvocationType="RequestResponse")):
        with pytest.raises(ClientError) as refused:
            aws.invoke(Payload=b"{}", **call)
        assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:" in str(refused.value)
    with pytest.raises(ClientError) as refused:
        aws.list_functions()
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:
        aws.invoke(FunctionName="imgpipe-local-resize_image", InvocationType="Event", Payload=b"{not json")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert len(received) == 2 and isinstance(layer, LambdaInvoke)


def test_the_change_count_moves_on_table_and_bucket_writes_only(emulator):
    """The periodic snapshot runs only when this count moved: reads and queue traffic
    (the worker polls all the time) must not move it, and no write may be missed."""
    dynamodb, s3, sqs = emulator("dynamodb"), emulator("s3"), emulator("sqs")
    s3.create_bucket(Bucket="emulator-test-changes")
    url = sqs.create_queue(QueueName="emulator-test-changes")["QueueUrl"]
    count = lambda: emulator.aws.serialised.changes  # noqa: E731
    writes = [
        lambda: dynamodb.put_item(TableName=TABLE, Item={"id": {"S": "changes"}}),
        lambda: dynamodb.update_item(TableName=TABLE, Key={"id": {"S": "changes"}},
                                     UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}}),
        lambda: s3.put_object(Bucket="emulator-test-changes", Key="k", Body=b"x"),
        lambda: s3.delete_object(Bucket="emulator-test-changes", Key="k"),
        lambda: dynamodb.delete_item(TableName=TABLE, Key={"id": {"S": "changes"}}),
    ]
    reads = [
        lambda: dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "changes"}}),
        lambda: dynamodb.query(TableName=TABLE, KeyConditionExpression="id = :i",
                               ExpressionAttributeValues={":i": {"S": "changes"}}),
        lambda: dynamodb.scan(TableName=TABLE),
        lambda: s3.list_objects_v2(Bucket="emulator-test-changes"),
        lambda: sqs.send_message(QueueUrl=url, MessageBody="m"),
        lambda: sqs.receive_message(QueueUrl=url),
    ]
    for write in writes:
        before = count()
        write()
        assert count() == before + 1
    before = count()
    for read in reads:
        read()
    assert count() == before


def test_both_servers_send_small_answers_at_once():
    """TCP_NODELAY on the emulator's and the API's connections: http.server writes the
    headers and the body apart, and Nagle held a small body for the client's delayed ACK."""
    from imgpipe.gateway import QuietHandler

    aws = AwsEmulator("127.0.0.1", free_port(), {"local": "local"})
    try:
        assert aws._server.RequestHandlerClass.disable_nagle_algorithm is True
    finally:
        aws._server.server_close()
    assert QuietHandler.disable_nagle_algorithm is True


def test_lambda_synchronous_invoke_runs_the_function_and_reports_its_failure_as_lambda_does(emulator):
    """The /v/ route's render: RequestResponse invocations of a registered function answer its
    result; an exception is a 200 with X-Amz-Function-Error, as Lambda reports a crash."""
    aws = emulator("lambda")
    layer = emulator.lambda_invoke
    layer.synchronous["imgpipe-local-render_variant"] = lambda payload: json.dumps(
        {"got": json.loads(payload)}).encode()
    answer = aws.invoke(FunctionName="imgpipe-local-render_variant", Payload=b'{"a": 1}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"got": {"a": 1}}

    def crash(payload: bytes) -> bytes:
        raise MemoryError("out of memory")

    layer.synchronous["imgpipe-local-render_variant"] = crash
    failed = aws.invoke(FunctionName="imgpipe-local-render_variant", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read()) == {"errorMessage": "out of memory", "errorType": "MemoryError"}
    with pytest.raises(ClientError) as refused:  # an async invoke of a synchronous-only function
        aws.invoke(FunctionName="imgpipe-local-render_variant", InvocationType="Event", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
