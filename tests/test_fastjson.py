"""imgpipe.fastjson: the local stack's DynamoDB answers read the same as moto's own.

The same calls run twice against moto, with moto's serializer and with the fast
one, and every answer a client parses must be equal (ResponseMetadata aside).
"""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import serialize

from imgpipe import fastjson

ITEM = {
    "id": {"S": "a"}, "kind": {"S": "image"}, "created_at": {"S": "2026-11-30T06:00:00.000Z"},
    "attempts": {"N": "2"}, "ratio": {"N": "1.5"}, "done": {"BOOL": True}, "nothing": {"NULL": True},
    "tags": {"SS": ["x", "y"]}, "sizes": {"NS": ["1", "2"]},
    "renditions": {"L": [{"M": {"name": {"S": "thumb"}, "width": {"N": "320"},
                                "key": {"S": "renditions/a/thumb.jpg"}}}]},
    "source": {"M": {"bucket": {"S": "in"}, "etag": {"S": "\"abc\""}, "bytes": {"N": "12345"}}},
}


def _calls(dynamodb) -> list:
    """Every kind of answer the app and the local stack read, errors included."""
    answers = []

    def call(name, **kwargs):
        try:
            answer = getattr(dynamodb, name)(**kwargs)
        except ClientError as exc:
            answer = {"error": exc.response["Error"]}
        answer.pop("ResponseMetadata", None)
        answers.append((name, answer))

    call("create_table", TableName="t", BillingMode="PAY_PER_REQUEST",
         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
         AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                               for a in ("id", "kind", "created_at")],
         GlobalSecondaryIndexes=[{"IndexName": "by-created", "Projection": {"ProjectionType": "ALL"},
                                  "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"},
                                                {"AttributeName": "created_at", "KeyType": "RANGE"}]}])
    call("put_item", TableName="t", Item=ITEM)
    # Binary: not plain JSON (bytes), so answers holding it take moto's own way.
    call("put_item", TableName="t", Item={**ITEM, "id": {"S": "bin"}, "kind": {"S": "other"},
                                          "blob": {"B": b"\x00\xffbytes"}})
    call("get_item", TableName="t", Key={"id": {"S": "bin"}})
    for n in range(3):
        call("put_item", TableName="t", ReturnValues="ALL_OLD",
             Item={**ITEM, "id": {"S": f"p{n}"}, "created_at": {"S": f"2026-11-30T07:0{n}:00.000Z"}})
    call("get_item", TableName="t", Key={"id": {"S": "a"}})
    call("get_item", TableName="t", Key={"id": {"S": "missing"}})
    call("get_item", TableName="t", Key={"id": {"S": "a"}}, ProjectionExpression="renditions, attempts")
    first = dynamodb.query(TableName="t", IndexName="by-created", KeyConditionExpression="kind = :k",
                           ExpressionAttributeValues={":k": {"S": "image"}}, ScanIndexForward=False, Limit=2)
    call("query", TableName="t", IndexName="by-created", KeyConditionExpression="kind = :k",
         ExpressionAttributeValues={":k": {"S": "image"}}, ScanIndexForward=False, Limit=2,
         ExclusiveStartKey=first["LastEvaluatedKey"])
    call("query", TableName="t", IndexName="by-created", KeyConditionExpression="kind = :k",
         ExpressionAttributeValues={":k": {"S": "nothing"}})
    call("scan", TableName="t", ConsistentRead=True)
    call("update_item", TableName="t", Key={"id": {"S": "a"}}, ReturnValues="ALL_NEW",
         UpdateExpression="SET attempts = attempts + :one", ExpressionAttributeValues={":one": {"N": "1"}})
    call("update_item", TableName="t", Key={"id": {"S": "a"}}, ReturnValues="UPDATED_OLD",
         UpdateExpression="REMOVE done")
    call("update_item", TableName="t", Key={"id": {"S": "a"}}, ConditionExpression="attribute_not_exists(id)",
         UpdateExpression="SET done = :t", ExpressionAttributeValues={":t": {"BOOL": True}},
         ReturnValuesOnConditionCheckFailure="ALL_OLD")
    call("batch_get_item", RequestItems={"t": {"Keys": [{"id": {"S": "a"}}, {"id": {"S": "p1"}}]}})
    call("transact_write_items", TransactItems=[{"Delete": {"TableName": "t", "Key": {"id": {"S": "p2"}}}}])
    call("delete_item", TableName="t", Key={"id": {"S": "p0"}}, ReturnValues="ALL_OLD")
    call("describe_table", TableName="t")
    return answers


@pytest.fixture
def registry():
    before = dict(serialize.SERVICE_SPECIFIC_SERIALIZERS)
    serialize.SERVICE_SPECIFIC_SERIALIZERS.pop("dynamodb", None)
    yield serialize.SERVICE_SPECIFIC_SERIALIZERS
    serialize.SERVICE_SPECIFIC_SERIALIZERS.clear()
    serialize.SERVICE_SPECIFIC_SERIALIZERS.update(before)


def _answers() -> list:
    with mock_aws():
        return _calls(boto3.client("dynamodb", region_name="us-east-1"))


def _volatile(answers: list) -> list:
    """Table descriptions carry their creation time; everything else must match exactly."""
    for _, answer in answers:
        for description in (answer.get("TableDescription"), answer.get("Table")):
            if description:
                description.pop("CreationDateTime", None)
    return answers


def test_clients_read_the_same_answers_with_the_fast_serializer(registry):
    slow = _answers()
    assert fastjson.install()
    assert "dynamodb" in registry
    fast = _answers()
    assert [name for name, _ in fast] == [name for name, _ in slow]
    for (name, a), (_, b) in zip(_volatile(slow), _volatile(fast), strict=True):
        assert a == b, name


def test_the_fast_serializer_takes_the_answers_it_can(registry, monkeypatch):
    """It is used: plain answers skip moto's walk (the test above would pass without it)."""
    assert fastjson.install()
    walked = []
    real = serialize.JSONSerializer._serialize_result

    def walking(self, resp, result):
        walked.append(self.operation_model.name)
        return real(self, resp, result)

    monkeypatch.setattr(serialize.JSONSerializer, "_serialize_result", walking)
    _answers()
    # Binary attributes and timestamps still take moto's walk; the rest does not.
    assert "Scan" in walked and "DescribeTable" in walked  # `bin` holds bytes; descriptions hold times
    assert not {"Query", "UpdateItem", "DeleteItem", "PutItem", "BatchGetItem"} & set(walked), walked
    assert walked.count("GetItem") == 1  # only `bin`
