"""N-d arrays and storage tiers: strata.NdArray (numpy basic indexing over chunked, row- or
column-major arrays), strata.Stage (a background staging job) and the Pool methods of N-d arrays,
tiers, migration and staging (compiled, in ndarray.c).

    nd = pool.create_ndarray("sim/temp", "f32", (None, 500, 500), chunks=(1, 100, 100), zstd=3)
    nd.append(step0)                      # -> 0, the step's index
    tile = nd[0, 100:200, ::2]            # only the chunks it touches are read
    nd[0, :10, :10] = 1.5                 # broadcasting as in numpy; copy-on-write per chunk
"""
from . import _strata


class NdArray(_strata.NdArray):
    __doc__ = _strata.NdArray.__doc__

    def __iter__(self):
        """The sub-arrays along the first dimension (steps), each read when reached."""
        for i in range(len(self)):
            yield self[i]


class Stage(_strata.Stage):
    __doc__ = _strata.Stage.__doc__


class NdPoolMixin:
    """Pool methods of N-d arrays and tiers (all compiled: create_ndarray, ndarray, ndarrays,
    drop_ndarray, tiers, add_tier, set_tier, remove_tier, migrate, stage)."""


ND_CLASSES = {"NdArray": NdArray, "Stage": Stage}
