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

S3. A signed GetObject may set some response headers through its query string (response-content-disposition
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
