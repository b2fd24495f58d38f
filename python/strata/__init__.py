"""strata: Strata pools from Python -- arrays, datasets, snapshots, derived data, N-d arrays and
the MDMS catalog, zero-copy with numpy and pandas.

    import strata
    with strata.Pool("/dev/shm/mypool", create=True) as pool:
        a = pool.create_array("demo/a", "i64", 10)
        a[2:5] = [7, 8, 9]
        print(a[:], a.numpy())          # a copy, then a zero-copy view of the shared mapping

Errors are exceptions, one class per status code, all under strata.Error; NotFound is also a
KeyError and OutOfRange an IndexError, so find-or-create reads

    try:
        a = pool.array("demo/a")
    except strata.NotFound:
        a = pool.create_array("demo/a", "i64", 10)

Thread safety: a Pool and everything opened through it may be shared by any number of threads.
Calls on one pool run one at a time (a lock per pool), except the data path of arrays (get, put,
gather, scatter, atomics), which runs concurrently. Long calls (ingest, update, region reads and
writes, snapshot reads, check, gc, MDMS loads) release the GIL. Processes share a pool by opening
it each: stores, atomics and locks work across processes. A process that forks must not use the
parent's Pool objects; open the pool again in the child (multiprocessing's 'spawn' or 'forkserver'
start methods do this naturally).

See docs/python.md for a tour and the reference.
"""
from . import _strata
from ._strata import (  # noqa: F401  (re-exported)
    Error, NotFound, Exists, InvalidArgument, TypeMismatch, OutOfRange, BadName, Locked,
    NoSpace, IOFailure, Corrupt, OutOfMemory, Conflict, PermissionDenied, Unsupported, Stale,
    Cancelled, strerror,
)
from ._array import Array
from ._dataset import DatasetPoolMixin, DATASET_CLASSES
from ._derive import DerivePoolMixin, DERIVE_CLASSES
from ._nd import NdPoolMixin, ND_CLASSES
from ._mdms import MdmsPoolMixin, MDMS_CLASSES

__version__ = _strata.__version__


class Pool(DatasetPoolMixin, DerivePoolMixin, NdPoolMixin, MdmsPoolMixin, _strata.Pool):
    __doc__ = _strata.Pool.__doc__

    def __repr__(self):
        state = " (closed)" if self.closed else ""
        return f"<strata.Pool {str(self.path)!r}{state}>"


_strata._register(Array=Array, **DATASET_CLASSES, **DERIVE_CLASSES, **ND_CLASSES,
                  **MDMS_CLASSES)

__all__ = [
    "Pool", "Array", "Error", "NotFound", "Exists", "InvalidArgument", "TypeMismatch",
    "OutOfRange", "BadName", "Locked", "NoSpace", "IOFailure", "Corrupt", "OutOfMemory",
    "Conflict", "PermissionDenied", "Unsupported", "Stale", "Cancelled", "strerror",
]
globals().update({**DATASET_CLASSES, **DERIVE_CLASSES, **ND_CLASSES, **MDMS_CLASSES})
__all__ += sorted({**DATASET_CLASSES, **DERIVE_CLASSES, **ND_CLASSES, **MDMS_CLASSES})
