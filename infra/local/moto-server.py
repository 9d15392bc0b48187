"""moto_server with DynamoDB's per-item atomicity, and memory that stays bounded over long runs.

DynamoDB applies each request to an item atomically: a conditional update either sees the item as it is
and changes it, or fails. moto's server handles requests on threads and its DynamoDB backend reads,
checks and writes an item in separate steps, so concurrent conditional updates can all pass the same
condition (150 concurrent `ADD count` under `count < 10` let 10 to 12 through). Rate limits and failure
budgets are exactly such updates, and their tests must be able to trust the emulator. Serialising the
DynamoDB handler (pure in-memory Python work) restores the guarantee at no real cost; the other services
keep running concurrently.

Memory. Left alone, moto's process grows without bound under our traffic (past 20 GB after ~1,400
requests that sequence audit events), for two reasons fixed here:
- `TransactWriteItems` takes a deep copy of the whole table *for every item* of the transaction, to roll
  back on failure. The audit sequencer writes 2 x up to 49 items per transaction into ever-growing tables,
  so each transaction allocated dozens of copies of the whole audit log (stream records included), and
  CPython's allocator keeps the peak. Here a transaction instead remembers the previous state of just the
  items it touches (and the stream's length) and restores those on failure: the same all-or-nothing
  result, at a cost proportional to the transaction.
- Every table's stream keeps every record forever (old and new image) though nothing here reads the
  streams (local mode runs the audit sequencer in-process). A stream keeps only its newest records, as
  DynamoDB keeps only 24 hours of them; sequence numbers stay increasing.
- The server answers each request on a new thread, and glibc gives busy threads their own malloc arenas
  that keep freed memory: moto-server is started with MALLOC_ARENA_MAX=2, and a daemon thread hands
  freed memory back to the system (malloc_trim) every few seconds.
- STS keeps every assumed-role session forever (one per vend and per tenant-scoped client); sessions
  whose credentials have expired are dropped, as AWS would refuse them anyway.

S3. The managed bucket's encryption rule is enforced from the bucket's policy and the caller's session policy
(see "the managed bucket's encryption rule" below). A signed GetObject may set some response headers through its query string (response-content-disposition
and the like), as S3 allows and presigned download links rely on; moto ignored them.

Usage is moto_server's: moto-server.py -H 127.0.0.1 -p 4566
Environment: STRONGROOM_MOTO_STREAM_RECORDS (records kept per stream, default 1000).
"""

import copy
import ctypes
import os
import sys
import threading
import time
import types

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main
from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.s3.responses import S3Response
from moto.sts.models import STSBackend, sts_backends

_dynamodb_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):  # type: ignore[no-untyped-def]
    with _dynamodb_lock:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action


# --- transactions: roll back the touched items, not a copy of every table per item ---------------------

def _deepcopy_except_tables(value, memo=None):  # type: ignore[no-untyped-def]
    # moto's transaction snapshots whole tables with copy.deepcopy; handing back the table itself makes
    # that snapshot free (and its own "rollback" a no-op); _transact_write_items restores the items.
    if isinstance(value, Table):
        return value
    return copy.deepcopy(value, memo)


_copy_without_tables = types.SimpleNamespace(
    deepcopy=_deepcopy_except_tables, copy=copy.copy, Error=copy.Error
)
_transact_write_items = DynamoDBBackend.transact_write_items


def _item_key(table: Table, attributes):  # type: ignore[no-untyped-def]
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _restore_item(table: Table, hash_key, range_key, previous) -> None:  # type: ignore[no-untyped-def]
    if range_key is not None:
        partition = table.items.get(hash_key)
        if previous is not None:
            table.items[hash_key][range_key] = previous
        elif partition is not None:
            partition.pop(range_key, None)
            if not partition:
                table.items.pop(hash_key, None)
    elif previous is not None:
        table.items[hash_key] = previous
    else:
        table.items.pop(hash_key, None)


def _bounded_transact_write_items(self, transact_items):  # type: ignore[no-untyped-def]
    touched = []  # (table, hash key, range key, deep copy of the item before, or None)
    streams = {}  # id(shard) -> (shard, sequence number of its next record)
    try:
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            hash_key, range_key = _item_key(table, op["Item"] if "Item" in op else op["Key"])
            previous = table.get_item(hash_key, range_key)
            touched.append((table, hash_key, range_key, copy.deepcopy(previous)))
            shard = table.stream_shard
            if shard is not None and id(shard) not in streams:
                streams[id(shard)] = (shard, shard.starting_sequence_number + len(shard.items))
    except Exception:
        # A request moto will refuse as malformed: let moto's own (copying) path answer it.
        return _transact_write_items(self, transact_items)
    dynamodb_models.copy = _copy_without_tables
    try:
        return _transact_write_items(self, transact_items)
    except BaseException:
        for table, hash_key, range_key, previous in reversed(touched):
            _restore_item(table, hash_key, range_key, previous)
        for shard, next_sequence in streams.values():
            del shard.items[max(0, next_sequence - shard.starting_sequence_number):]
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = _bounded_transact_write_items


# --- streams: keep the newest records only ---------------------------------------------------------------

_STREAM_RECORDS = max(1, int(os.environ.get("STRONGROOM_MOTO_STREAM_RECORDS", "1000")))
_stream_add = StreamShard.add


def _bounded_stream_add(self, old, new):  # type: ignore[no-untyped-def]
    _stream_add(self, old, new)
    excess = len(self.items) - _STREAM_RECORDS
    if excess > 0:
        del self.items[:excess]
        self.starting_sequence_number += excess


StreamShard.add = _bounded_stream_add


# --- STS: forget sessions whose credentials have expired -------------------------------------------------

_assume_role = STSBackend.assume_role


def _assume_role_forgetting_expired(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    role = _assume_role(self, *args, **kwargs)
    now = utcnow()
    owner = sts_backends[role.account_id][role.partition]
    expired = [r for r in owner.assumed_roles if r.expiration <= now]
    if expired:
        owner.assumed_roles[:] = [r for r in owner.assumed_roles if r.expiration > now]
        for r in expired:  # and the temporary access key IAM keeps for each
            iam_backends[r.account_id][r.partition].access_keys.pop(r.access_key.physical_resource_id, None)
    return role


STSBackend.assume_role = _assume_role_forgetting_expired



# --- S3 GetObject response overrides ---------------------------------------------------------------------
# S3 lets a signed GetObject choose some response headers through the query string (presigned download
# URLs use response-content-disposition to make the browser save the file); moto ignores them, so a
# download link would open the object in the page instead. Applied as S3 applies them, to answers with
# the object (200 and 206).

_RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-disposition": "Content-Disposition",
    "response-content-language": "Content-Language",
    "response-content-encoding": "Content-Encoding",
    "response-cache-control": "Cache-Control",
    "response-expires": "Expires",
}
_get_object = S3Response.get_object


def _get_object_with_overrides(self):  # type: ignore[no-untyped-def]
    status, headers, body = _get_object(self)
    if status in (200, 206):
        for parameter, header in _RESPONSE_OVERRIDES.items():
            values = self.querystring.get(parameter)
            if values:
                for existing in [h for h in headers if h.lower() == header.lower()]:
                    headers.pop(existing)
                headers[header] = values[0]
    return status, headers, body


S3Response.get_object = _get_object_with_overrides


# --- S3: the managed bucket's encryption rule ----------------------------------------------------------------
# In AWS a vended session's write to the managed bucket is judged by the bucket's policy and the session's
# policy (both deny objects under `tenants/` unless SSE-KMS names the right key), and a write that names no
# encryption falls to the bucket's default key, which the session may not have S3 use (KMS refuses it). moto
# judges none of that, so local mode hid clients that forget the encryption headers. Here, for a bucket that
# has a policy (local mode gives the managed bucket the deployed one), every object-creating request
# (`s3:PutObject`: PutObject, CopyObject, CreateMultipartUpload, UploadPart, UploadPartCopy,
# CompleteMultipartUpload) is refused with S3's AccessDenied when a Deny statement of the bucket's policy or of
# the caller's STS session policy matches it, evaluated from the policy documents themselves (the condition
# operators those policies use: String(Not)Equals/Like with ...IfExists, and Null), and when a request that
# chooses the encryption (not a part or a completion) would have S3 generate a data key under a KMS key the
# caller's session policy does not allow `kms:GenerateDataKey` on. Everything else about IAM stays unenforced.

import json
import re

from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.models import FakeBucket
from moto.s3.models import s3_backends as _s3_backends

_SSE_HEADERS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
)


def _as_list(value):  # type: ignore[no-untyped-def]
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:  # type: ignore[no-untyped-def]
    values = [str(v) for v in _as_list(expected)]
    present = key.lower() in context
    actual = context.get(key.lower())
    if operator == "Null":
        return (values[0].lower() == "true") == (not present)
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if not present:
        # IAM: a missing key makes an ...IfExists condition true, a negated operator true, any other false.
        return if_exists or base in ("StringNotEquals", "StringNotLike")
    if base == "StringEquals":
        return actual in values
    if base == "StringNotEquals":
        return actual not in values
    if base == "StringLike":
        return any(_glob(v, actual) for v in values)
    if base == "StringNotLike":
        return not any(_glob(v, actual) for v in values)
    raise ValueError(operator)


def _statement_matches(statement: dict, action: str, resource: str, context: dict) -> bool:
    if not any(_glob(a, action, case=False) for a in _as_list(statement.get("Action", []))):
        return False
    if not any(_glob(r, resource) for r in _as_list(statement.get("Resource", []))):
        return False
    for operator, entries in (statement.get("Condition") or {}).items():
        for key, expected in entries.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _statements(document) -> list:  # type: ignore[no-untyped-def]
    if not document:
        return []
    if isinstance(document, bytes):
        document = document.decode()
    parsed = json.loads(document) if isinstance(document, str) else document
    return _as_list(parsed.get("Statement", []))


def _session_policy(access_key_id: str):  # type: ignore[no-untyped-def]
    for by_partition in sts_backends.values():
        for backend in by_partition.values():
            for role in backend.assumed_roles:
                if role.access_key.access_key_id == access_key_id:
                    return role.policy
    return None


def _caller_key(response) -> str:  # type: ignore[no-untyped-def]
    credential = response.querystring.get("X-Amz-Credential")
    if credential:
        return credential[0].split("/")[0]
    return response.get_access_key()


def _judge_write(response, bucket_name: str, key_name: str, chooses_encryption: bool) -> None:  # type: ignore[no-untyped-def]
    bucket = None
    for by_partition in _s3_backends.values():
        for backend in by_partition.values():
            bucket = backend.buckets.get(bucket_name)
            if bucket is not None:
                break
        if bucket is not None:
            break
    if bucket is None or not bucket.policy:
        return
    context = {h.replace("x-amz-", "s3:x-amz-", 1): v for h in _SSE_HEADERS if (v := response.headers.get(h))}
    resource = f"arn:aws:s3:::{bucket_name}/{key_name}"
    session = _session_policy(_caller_key(response))
    for statement in _statements(bucket.policy) + _statements(session):
        if statement.get("Effect") == "Deny" and _statement_matches(
            statement, "s3:PutObject", resource, context
        ):
            raise S3AccessDeniedError()
    if not chooses_encryption or session is None:
        return
    encryption = context.get("s3:x-amz-server-side-encryption")
    key = context.get("s3:x-amz-server-side-encryption-aws-kms-key-id")
    if encryption is None and key is None:
        for rule in _as_list((bucket.encryption or {}).get("Rule", [])):
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms":
                key = default.get("KMSMasterKeyID")
    elif encryption is None or not encryption.startswith("aws:kms"):
        return
    if key is None:
        return  # the AWS managed key: refused by the deny statements above where the policies say so
    kms_context = {"kms:viaservice": f"s3.{bucket.region_name}.amazonaws.com"}
    if not any(
        statement.get("Effect") == "Allow"
        and _statement_matches(statement, "kms:GenerateDataKey", key, kms_context)
        for statement in _statements(session)
    ):
        raise S3AccessDeniedError()


# moto itself refuses a request when a Deny statement of the bucket's policy names its action and resource,
# but ignores the statement's conditions, so every write to the managed bucket would be refused: it judges
# only the statements without conditions; `_judge_write` judges the others.
_get_permission = FakeBucket.get_permission


def _get_permission_of_unconditioned(self, action, resource):  # type: ignore[no-untyped-def]
    from moto.iam.access_control import IAMPolicy, PermissionResult

    statements = _statements(self.policy)
    if self.policy is None or all(not s.get("Condition") for s in statements):
        return _get_permission(self, action, resource)
    unconditioned = [s for s in statements if not s.get("Condition")]
    if not unconditioned:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": unconditioned})).is_action_permitted(
        action, resource
    )


FakeBucket.get_permission = _get_permission_of_unconditioned

_key_response_put = S3Response._key_response_put
_key_response_post = S3Response._key_response_post


def _judged_key_response_put(self, query, key_name):  # type: ignore[no-untyped-def]
    if not any(q in query for q in ("retention", "legal-hold", "acl", "tagging")):
        part = bool(query.get("uploadId") and query.get("partNumber"))
        _judge_write(self, self.bucket_name, key_name, chooses_encryption=not part)
    return _key_response_put(self, query, key_name)


def _judged_key_response_post(self, request, body, bucket_name, query, key_name):  # type: ignore[no-untyped-def]
    if "uploads" in query or "uploadId" in query:
        _judge_write(self, bucket_name, key_name, chooses_encryption="uploads" in query)
    return _key_response_post(self, request, body, bucket_name, query, key_name)


S3Response._key_response_put = _judged_key_response_put
S3Response._key_response_post = _judged_key_response_post


# --- give freed memory back ------------------------------------------------------------------------------

def _trim_forever(interval: float) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return  # not glibc: nothing to do
    while True:
        time.sleep(interval)
        trim(0)


threading.Thread(target=_trim_forever, args=(5.0,), name="malloc-trim", daemon=True).start()

if __name__ == "__main__":
    sys.exit(main())
