"""N-d arrays and storage tiers: strata.NdArray (numpy basic indexing over chunked, row- or
column-major arrays), strata.Stage (a background staging job) and the Pool methods of N-d arrays,
tiers, migration and staging (compiled, in ndarray.c).

    nd = pool.create_ndarray("sim/temp", "f32", (None, 500, 500), chunks=(1, 100, 100), zstd=3)
    nd.append(step0)                      # -> 0, the step's index
    tile = nd[0, 100:200, ::2]            # only the chunks it touches are read
    nd[0, :10, :10] = 1.5                 # broadcasting as in numpy; copy-on-write per chunk
    nd.attrs["units"] = "K"               # kept in the catalog, carried to and from HDF5
    nd.export_hdf5("temp.h5", "/fields/temp")
    t2 = pool.import_ndarray("sim/t2", "run.h5", "/fields/temp")
"""
from . import _strata


class NdAttrs:
    """The attributes of an N-d array, as h5py's .attrs: a mapping of names to int, float or str
    values kept in the catalog with the array and carried to and from HDF5 attributes."""

    def __init__(self, nd):
        self._nd = nd

    def __getitem__(self, name):
        return self._nd._attrs()[name]

    def __setitem__(self, name, value):
        self._nd._attr_set(name, value)

    def __delitem__(self, name):
        try:
            self._nd._attr_delete(name)
        except _strata.NotFound:
            raise KeyError(name) from None

    def __contains__(self, name):
        return name in self._nd._attrs()

    def __iter__(self):
        return iter(self._nd._attrs())

    def __len__(self):
        return len(self._nd._attrs())

    def keys(self):
        return self._nd._attrs().keys()

    def items(self):
        return self._nd._attrs().items()

    def values(self):
        return self._nd._attrs().values()

    def get(self, name, default=None):
        return self._nd._attrs().get(name, default)

    def __repr__(self):
        return "<attributes of %s: %r>" % (self._nd.name, self._nd._attrs())


class NdArray(_strata.NdArray):
    __doc__ = _strata.NdArray.__doc__

    @property
    def attrs(self):
        """The array's attributes (a mapping, as h5py's .attrs: nd.attrs["units"] = "K")."""
        return NdAttrs(self)

    def __iter__(self):
        """The sub-arrays along the first dimension (steps), each read when reached."""
        for i in range(len(self)):
            yield self[i]


class Stage(_strata.Stage):
    __doc__ = _strata.Stage.__doc__


class NdPoolMixin:
    """Pool methods of N-d arrays and tiers (all compiled: create_ndarray, import_ndarray,
    ndarray, ndarrays, drop_ndarray, tiers, add_tier, set_tier, remove_tier, migrate, stage)."""


ND_CLASSES = {"NdArray": NdArray, "Stage": Stage}
