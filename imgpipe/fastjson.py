"""A faster way for moto to write DynamoDB answers, with the same JSON.

moto 5.2 writes every answer by walking botocore's output shape value by
value (moto.core.serialize). For DynamoDB that costs tens of milliseconds
per record with renditions: most of the local stack's time under load (a
GET /images/{id} was ~100 ms of CPU, a page of 25 ~350 ms). A DynamoDB
answer is DynamoDB JSON already, so an answer made only of JSON values is
written with json.dumps, keeping only the output shape's top-level members
as the walk does. Anything else (bytes of a binary attribute, timestamps,
None, model objects, errors) takes moto's own way. tests/test_fastjson.py
checks that clients read the same answers both ways.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.core.serialize import ResponseDict

_JSON_LEAVES = (str, int, float, bool)


def _plain(value: object) -> bool:
    """Only dicts, lists and JSON scalars (None excluded: the walk omits it)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, _JSON_LEAVES)


def install() -> bool:
    """Register the serializer for DynamoDB's JSON protocol; False if this moto has
    no such registry (then moto's own serializer stays, only slower)."""
    try:
        from moto.core import serialize
    except ImportError:
        return False
    registry = getattr(serialize, "SERVICE_SPECIFIC_SERIALIZERS", None)
    base = getattr(serialize, "JSONSerializer", None)
    if not isinstance(registry, dict) or base is None or not hasattr(base, "_serialize_result"):
        return False

    class DynamoJSONSerializer(base):  # type: ignore[misc, valid-type]
        def _serialize_result(self, resp: "ResponseDict", result: Any) -> "ResponseDict":  # moto's types
            shape = self.operation_model.output_shape
            if shape is None or not isinstance(result, dict) or not _plain(result):
                return super()._serialize_result(resp, result)
            members = shape.members
            kept = {key: value for key, value in result.items() if key in members}
            return self._serialized_result_to_response(resp, result, shape, kept)

    registry.setdefault("dynamodb", {})["json"] = DynamoJSONSerializer
    return True
