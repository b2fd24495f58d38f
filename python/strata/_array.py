"""strata.Array: the Python side of the compiled array type (locks as context managers)."""
from . import _strata


class _Held:
    """The lock of an array, held until the with-block ends (or release() is called)."""

    __slots__ = ("_array",)

    def __init__(self, array):
        self._array = array

    def __enter__(self):
        return self._array

    def __exit__(self, *exc):
        self.release()
        return False

    def release(self):
        """Release the lock (also done at the end of the with-block)."""
        if self._array is not None:
            self._array.unlock()
            self._array = None


class Array(_strata.Array):
    __doc__ = _strata.Array.__doc__

    def lock(self, shared=False, timeout=None):
        """Take the array's lock between processes: exclusive, or SHARED with other shared
        holders; wait at most TIMEOUT seconds (None: forever; 0: try once), else raise Locked.
        The lock is advisory (get and put go on) and is released by unlock(), by the end of a
        with-block, by close(), or by the death of the process:

            with a.lock():
                a[0] = a[0] + 1
        """
        self._lock(shared=shared, timeout=timeout)
        return _Held(self)

    def __iter__(self):
        n = len(self)
        step = 1 << 16
        for start in range(0, n, step):
            yield from self[start:min(start + step, n)]

    def tolist(self):
        """Every element, as a list of Python values (str for string arrays)."""
        v = self[:]
        return v if isinstance(v, list) else v.tolist()
