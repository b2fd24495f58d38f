"""The MDMS layer from Python: applications and runs, the catalog queries (runs, find, explain),
and saving and loading datasets by name, iteration and access pattern (strata.Mdms, strata.Assoc).

    pool.register_app("astro3d", grid=int, solver=str)
    with pool.mdms("astro3d") as m:                     # comm=MPI.COMM_WORLD under mpirun
        with m.run(grid=64, solver="cg") as run:
            with m.create(["temperature"], "f64", (64, 64), "(BLOCK,*)") as a:
                for it in range(10):
                    a.save("temperature", it, piece)    # this process's piece: a.local_shape
    pool.find("astro3d", dataset="temperature", where="max > 100")
"""
import sys

from . import _strata

_RUN_COLUMNS = ["id", "app", "user", "host", "status", "started_ns", "ended_ns", "nprocs"]
_FIND_COLUMNS = ["run", "iteration", "app", "dataset", "array", "tier", "strategy", "layout",
                 "dtype", "shape", "bytes", "files", "seconds", "nprocs", "min", "max", "mean",
                 "std", "hist", "created_ns"]


def _comm_address(comm):
    """The address of the MPI_Comm inside an mpi4py communicator, for strata_mdms_init. mpi4py is
    not imported here (importing it initialises MPI): a communicator comes from it already."""
    if comm is None:
        return 0
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is None or not isinstance(comm, MPI.Comm):
        raise _strata.InvalidArgument(
            f"comm must be an mpi4py communicator (MPI.COMM_WORLD, ...) or None, "
            f"not {type(comm).__name__}")
    if comm == MPI.COMM_NULL:
        raise _strata.InvalidArgument("comm is MPI.COMM_NULL")
    return MPI._addressof(comm)


class _Run:
    """The context manager of Mdms.run(): begins the run on entry (its value is the run id) and
    ends it on exit, as done, or as failed when an exception leaves the block."""

    __slots__ = ("_mdms", "_attrs", "id")

    def __init__(self, mdms, attrs):
        self._mdms = mdms
        self._attrs = attrs
        self.id = None

    def __enter__(self):
        self.id = self._mdms.begin_run(**self._attrs)
        return self.id

    def __exit__(self, exc_type, exc, tb):
        if self._mdms.run_id == self.id and not self._mdms.closed:
            self._mdms.end_run(ok=exc_type is None)
        return False


class Mdms(_strata.Mdms):
    __doc__ = _strata.Mdms.__doc__

    def run(self, **attributes):
        """A new run of the application with these attribute values, as a context manager whose
        value is the run id; the run ends as 'done', or as 'failed' if an exception leaves the
        block. Collective.

            with m.run(grid=64, solver="cg") as run:
                ...
        """
        return _Run(self, attributes)


class Assoc(_strata.Assoc):
    __doc__ = _strata.Assoc.__doc__

    def global_slices(self):
        """The global index of this process's piece, per dimension, as a tuple of int64 arrays:
        full[np.ix_(*assoc.global_slices())] is the piece (for any pattern)."""
        return tuple(self.global_index(d) for d in range(len(self.local_shape)))


def _frame(rows, columns):
    import pandas as pd
    if rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(columns=columns)


class MdmsPoolMixin:
    """Pool methods of the MDMS layer (the C ones: register_app, app_schema, apps, explain,
    tools, register_tool)."""

    def mdms(self, app, comm=None):
        """Start the MDMS for registered application APP: an Mdms, to use in a with-block. COMM is
        None (this process alone) or an mpi4py communicator whose processes all call this, each
        with its own Pool on the same pool directory; every later call on the Mdms and its
        associations is collective over it. Unsupported when libstrata was built without MPI;
        NotFound when APP is not registered.

            with pool.mdms("astro3d", comm=MPI.COMM_WORLD) as m:
                print(m.rank, m.size)
        """
        return self._mdms(app, _comm_address(comm))

    def runs(self, app, where=None, as_frame=False):
        """Runs of APP, newest first, matching WHERE (a condition on the run attributes and run,
        user, status, nprocs, started, ended: "grid = 64 and status = 'done'"): a list of dicts
        with id, app, user, host, status, started_ns, ended_ns (None while running), nprocs and
        the attributes (None when not given; an attribute named like one of the first keys
        appears as attr_NAME), or a pandas DataFrame with AS_FRAME. Raises NotFound for an
        unknown APP, InvalidArgument for a bad condition (the message gives the column)."""
        rows = self._runs(app, where)
        if not as_frame:
            return rows
        cols = _RUN_COLUMNS + [("attr_" + a if a in _RUN_COLUMNS else a)
                               for a in self.app_schema(app)]
        return _frame(rows, cols)

    def find(self, app, dataset=None, where=None, as_frame=False):
        """Saved iterations of APP (of DATASET, or any), by run, dataset and iteration, matching
        WHERE (run attributes and run, user, status, dataset, iteration, min, max, mean, std,
        bytes, strategy, seconds: "max > 1e6 and iteration >= 100"): a list of dicts with run,
        iteration, app, dataset, array (the N-d array holding it), tier, strategy, layout, dtype,
        shape, bytes, files, seconds, nprocs, min, max, mean, std, hist (32 counts over
        [min, max]) and created_ns, or a pandas DataFrame with AS_FRAME. Raises as runs()."""
        rows = self._find(app, dataset, where)
        return _frame(rows, _FIND_COLUMNS) if as_frame else rows


MDMS_CLASSES = {"Mdms": Mdms, "Assoc": Assoc}
