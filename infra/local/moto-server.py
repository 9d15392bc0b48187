"""moto_server with DynamoDB's per-item atomicity.

DynamoDB applies each request to an item atomically: a conditional update either sees the item as it is
and changes it, or fails. moto's server handles requests on threads and its DynamoDB backend reads,
checks and writes an item in separate steps, so concurrent conditional updates can all pass the same
condition (150 concurrent `ADD count` under `count < 10` let 10 to 12 through). Rate limits and failure
budgets are exactly such updates, and their tests must be able to trust the emulator. Serialising the
DynamoDB handler (pure in-memory Python work) restores the guarantee at no real cost; the other services
keep running concurrently.

Usage is moto_server's: moto-server.py -H 127.0.0.1 -p 4566
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_dynamodb_lock = threading.RLock()
_call_action = DynamoHandler.call_action


def _atomic_call_action(self):  # type: ignore[no-untyped-def]
    with _dynamodb_lock:
        return _call_action(self)


DynamoHandler.call_action = _atomic_call_action

if __name__ == "__main__":
    sys.exit(main())
