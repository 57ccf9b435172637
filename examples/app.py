"""A small service-like program that deep-copies its state, as many do.

Unmodified: it only uses the standard library's ``copy.deepcopy``.  Run it
with the shim (``PYTHONPATH=shim python examples/app.py``) and those copies
are fastdeepcopy's; with ``FASTDEEPCOPY=0`` they are the standard library's.
``make demo`` runs it both ways (examples/demo.py).

Each "request" takes a private copy of the default configuration tree and
adjusts it, snapshots a batch of order records before editing them (for an
undo), and copies a dataclass-based session.  It prints how long the
requests took:

    python examples/app.py [REQUESTS]
"""
import copy
import datetime
import hashlib
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal

DEFAULT_CONFIG = {
    "service": {"name": "orders", "version": (2, 7, 1), "debug": False},
    "database": {"hosts": ["db1.internal", "db2.internal"], "port": 5432,
                 "pool": {"min": 2, "max": 20, "timeout_s": 3.5}},
    "features": {name: {"enabled": i % 3 != 0, "rollout": i / 10, "owners": ["team-%d" % i]}
                 for i, name in enumerate(["search", "export", "audit", "bulk", "beta-ui",
                                           "cache", "retry", "quota"])},
    "limits": [{"route": "/api/%s" % r, "per_minute": 60 * (i + 1), "burst": (i, i * 2)}
               for i, r in enumerate(["orders", "users", "items", "reports", "search"])],
}


def make_records(n):
    day = datetime.date(2024, 1, 1)
    return [{"id": i, "customer": "c%04d" % (i % 97), "placed": day + datetime.timedelta(days=i % 30),
             "status": ("new", "paid", "shipped")[i % 3], "total": round(i * 1.37, 2),
             "lines": [{"sku": "SKU-%d" % j, "qty": j + 1, "price": 9.99 + j} for j in range(3)],
             "tags": {"priority"} if i % 7 == 0 else set()}
            for i in range(n)]


@dataclass
class Address:
    street: str
    city: str
    country: str = "NL"


@dataclass
class Customer:
    id: int
    name: str
    addresses: list
    credit: Decimal = Decimal("0.00")


@dataclass
class Session:
    user: Customer
    cart: list = field(default_factory=list)
    history: list = field(default_factory=list)
    flags: dict = field(default_factory=dict)


def make_session(i):
    user = Customer(i, "customer %d" % i, [Address("Main St %d" % k, "Utrecht") for k in range(2)])
    return Session(user, cart=[("SKU-%d" % k, k + 1) for k in range(5)],
                   history=[{"page": "/p/%d" % k, "ms": k * 3} for k in range(10)],
                   flags={"beta": i % 2 == 0})


def handle(i, records, session):
    config = copy.deepcopy(DEFAULT_CONFIG)          # a private, mutable config
    config["service"]["debug"] = i % 50 == 0
    snapshot = copy.deepcopy(records)               # undo point before editing
    for r in records[:5]:
        r["status"] = "paid"
    state = copy.deepcopy(session)                  # per-request working state
    state.cart.append(("SKU-X", 1))
    return config, snapshot, state


def main(argv):
    requests = int(argv[1]) if len(argv) > 1 else 300
    records = make_records(40)
    session = make_session(1)
    t0 = time.perf_counter()
    for i in range(requests):
        result = handle(i, records, session)
    elapsed = time.perf_counter() - t0
    digest = hashlib.sha256(repr(result).encode()).hexdigest()[:12]
    print("app: %d requests in %.3f s (last result %s)" % (requests, elapsed, digest))


if __name__ == "__main__":
    main(sys.argv)
