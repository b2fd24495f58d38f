"""Datasets, writers, snapshots, ingest, check and gc: the Python side of dataset.c.

    ds = pool.create_dataset("taxi/trips", {"fare": "f64", "zone": str})
    with ds.writer() as w:                       # published as one version at the end
        w.append(fare=np.array([7.5, 12.0]), zone=["a", "b"])
    with ds.snapshot() as snap:                  # immutable while open
        fares = snap["fare"]                     # zero-copy numpy view (one batch)
        df = snap.to_pandas()
    pool.ingest("taxi/more", "trips.csv")        # CSV or NPY files, or a DataFrame
"""
import html
import os
import sys
import time
from collections.abc import Mapping

import numpy as np

from . import _strata

__all__ = ["Dataset", "Writer", "Snapshot", "IngestStats"]


# ---- helpers ------------------------------------------------------------------------------------

def _is_dataframe(obj):
    return hasattr(obj, "columns") and hasattr(obj, "dtypes") and hasattr(obj, "iloc")


def _column_values(v):
    """A column's values as something the C layer takes: pandas objects become numpy arrays."""
    if hasattr(v, "to_numpy") and not isinstance(v, np.ndarray):
        return v.to_numpy()
    return v


def _columns_of(data, what):
    """DATA (a DataFrame, a mapping, or a numpy structured array) as a dict {column: values}."""
    if data is None:
        return {}
    if _is_dataframe(data):
        out = {}
        for c in data.columns:
            if not isinstance(c, str):
                raise _strata.InvalidArgument(
                    f"{what}: DataFrame column names must be str, not {c!r}")
            out[c] = _column_values(data[c])
        return out
    if isinstance(data, Mapping):
        return {k: _column_values(v) for k, v in data.items()}
    if isinstance(data, np.ndarray) and data.dtype.names:
        return {n: data[n] for n in data.dtype.names}
    raise _strata.InvalidArgument(
        f"{what}: give a DataFrame, a dict {{column: values}} or keyword arguments, "
        f"not {type(data).__name__}")


def _schema_pairs(schema):
    """A schema as [(column, dtype)]: a dict, a list of pairs, or a string 'a:i64,b:str'."""
    if isinstance(schema, str):
        pairs = []
        for part in schema.split(","):
            name, sep, dtype = part.strip().rpartition(":")
            if not sep or not name:
                raise _strata.InvalidArgument(
                    f"schema: {part.strip()!r} is not name:dtype (for example fare:f64)")
            pairs.append((name.strip(), dtype.strip()))
        return pairs
    if isinstance(schema, Mapping):
        return list(schema.items())
    try:
        pairs = [tuple(p) for p in schema]
    except TypeError:
        raise _strata.InvalidArgument(
            "the schema must be a dict {column: dtype}, a list of (column, dtype) pairs or a "
            "string 'a:i64,b:str'") from None
    for p in pairs:
        if len(p) != 2:
            raise _strata.InvalidArgument(f"schema: {p!r} is not a (column, dtype) pair")
    return pairs


def _dtype_name(dt):
    """The Strata dtype name of DT (a Strata name, numpy dtype or str)."""
    if dt is str:
        return "str"
    if isinstance(dt, str) and dt in {"i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
                                      "f32", "f64", "bool", "str"}:
        return dt
    d = np.dtype(dt)
    if d.kind in "OUS":
        return "str"
    names = {"i": "i", "u": "u", "f": "f"}
    if d.kind == "b":
        return "bool"
    if d.kind in names and d.itemsize in (1, 2, 4, 8) and not (d.kind == "f" and d.itemsize < 4):
        return f"{names[d.kind]}{d.itemsize * 8}"
    raise _strata.TypeMismatch(
        f"numpy dtype '{d}' has no Strata type (Strata stores i8..i64, u8..u64, f32, f64, bool, "
        f"str)")


def _schema_string(schema):
    return ",".join(f"{name}:{_dtype_name(dt)}" for name, dt in _schema_pairs(schema))


def _infer_schema(columns):
    """The schema of a dict of column values: numpy's dtypes, object/str columns as str."""
    pairs = []
    for name, v in columns.items():
        a = v if isinstance(v, np.ndarray) else np.asarray(v)
        if a.dtype == object and len(a) and not all(isinstance(x, str) for x in a):
            try:
                a = np.array(a.tolist())
            except Exception:  # noqa: BLE001 - keep object: str, and the writer says why not
                pass
        pairs.append((name, str if a.dtype.kind in "OUS" else a.dtype))
    return pairs


def _numeric_fix(values, dtype_name):
    """An object ndarray for a numeric column (pandas' nullable columns): numpy's own dtype."""
    if (dtype_name != "str" and isinstance(values, np.ndarray) and values.dtype == object):
        try:
            a = np.array(values.tolist())
        except Exception:  # noqa: BLE001 - the C layer reports the mismatch
            return values
        if a.dtype != object:
            return a
    return values


# ---- ingest statistics and progress ------------------------------------------------------------

class IngestStats:
    """What pool.ingest() did (also what a progress callback receives so far): files, rows,
    bytes_read, batches, version (the version published last; 0: nothing published yet) and
    seconds."""

    __slots__ = ("files", "rows", "bytes_read", "batches", "version", "seconds")

    def __init__(self, files=0, rows=0, bytes_read=0, batches=0, version=0, seconds=0.0):
        self.files = files
        self.rows = rows
        self.bytes_read = bytes_read
        self.batches = batches
        self.version = version
        self.seconds = seconds

    def as_dict(self):
        """The fields as a dict."""
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other):
        return isinstance(other, IngestStats) and self.as_dict() == other.as_dict()

    def __repr__(self):
        return (f"<strata.IngestStats {self.rows} rows in {self.batches} batches from "
                f"{self.files} files, {self.bytes_read} bytes, {self.seconds:.3f} s, "
                f"version {self.version}>")


class _ProgressBar:
    """A one-line progress display on stderr (like tqdm's): rows, MB/s, percentage, time left."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.shown = False
        self.last = 0.0

    def __call__(self, stats, total_bytes):
        now = time.monotonic()
        if now - self.last < 0.1 and stats.bytes_read < total_bytes:
            return
        self.last = now
        pct = 100.0 * stats.bytes_read / total_bytes if total_bytes else 100.0
        mbps = stats.bytes_read / stats.seconds / 1e6 if stats.seconds > 0 else 0.0
        left = (stats.seconds * (total_bytes - stats.bytes_read) / stats.bytes_read
                if stats.bytes_read and total_bytes > stats.bytes_read else 0.0)
        width = 24
        fill = int(width * pct / 100)
        bar = "#" * fill + "-" * (width - fill)
        self.stream.write(f"\r  [{bar}] {pct:5.1f}%  {stats.rows} rows, {stats.batches} "
                          f"batches, {mbps:.0f} MB/s, {left:.0f} s left   ")
        self.stream.flush()
        self.shown = True

    def close(self):
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _progress_callable(progress):
    """PROGRESS as (callable(stats, total_bytes) or None, bar to close or None)."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if progress is True:
        bar = _ProgressBar()
        return bar, bar
    if progress is False:
        return None, None
    if not callable(progress):
        raise _strata.InvalidArgument(
            "progress must be a callable(stats, total_bytes), True, False or None")
    return progress, None


# ---- Dataset, Writer, Snapshot -----------------------------------------------------------------

def _html_table(title, schema_names, head, nrows, footer):
    """An HTML table: a caption, a header of column:dtype, the rows of HEAD, '...' if more."""
    esc = html.escape
    cols = list(schema_names)
    out = ["<table>", f"<caption>{esc(title)}</caption>", "<thead><tr>"]
    out += [f"<th>{esc(c)}<br><small>{esc(schema_names[c])}</small></th>" for c in cols]
    out.append("</tr></thead><tbody>")
    shown = len(next(iter(head.values()))) if head else 0
    for i in range(shown):
        out.append("<tr>" + "".join(f"<td>{esc(str(head[c][i]))}</td>" for c in cols) + "</tr>")
    if nrows > shown:
        out.append("<tr>" + "".join("<td>&hellip;</td>" for _ in cols) + "</tr>")
    out.append("</tbody></table>")
    out.append(f"<p><small>{esc(footer)}</small></p>")
    return "".join(out)


class Dataset(_strata.Dataset):
    __doc__ = _strata.Dataset.__doc__

    def drop(self):
        """Drop the dataset (pool.drop_dataset) and close this handle. Open snapshots go on
        reading it until they close; gc() frees its files afterwards."""
        self.pool.drop_dataset(self.name)
        self.close()

    def to_pandas(self, columns=None, as_of=None):
        """The dataset at version AS_OF (None: the latest) as a pandas DataFrame (a copy);
        shorthand for ds.snapshot(as_of).to_pandas(columns)."""
        with self.snapshot(as_of=as_of) as snap:
            return snap.to_pandas(columns)

    def _repr_html_(self):
        with self.snapshot() as snap:
            return snap._repr_html_(kind="Dataset")


class Writer(_strata.Writer):
    __doc__ = _strata.Writer.__doc__

    def append(self, data=None, /, **columns):
        """Append one batch: every column of the schema, given as keyword arguments
        (w.append(fare=ndarray, zone=list_of_str)), as a dict, as a pandas DataFrame or as a
        numpy structured array. Values convert when they fit exactly (ints into a float column,
        small ints into i32), else TypeMismatch; string columns take a sequence of str (numpy
        str or object arrays too; None is refused: use ''). Raises InvalidArgument when a
        column is missing or the columns differ in length, NotFound for a column the dataset
        does not have. The batch is written (and made durable) with the GIL released, but is
        not visible until publish() or the end of the with-block. Returns its row count."""
        cols = _columns_of(data, f"append to '{self.name}'")
        for k, v in columns.items():
            if k in cols:
                raise _strata.InvalidArgument(
                    f"append to '{self.name}': column '{k}' is given twice")
            cols[k] = _column_values(v)
        names = self.schema_names
        for k, v in cols.items():
            if k in names:
                cols[k] = _numeric_fix(v, names[k])
        return self._append(cols)


def _masked(a, valid):
    """A with its nulls: A itself when VALID is None (no nulls), else a numpy masked array."""
    if valid is None:
        return a
    return np.ma.MaskedArray(a, mask=~valid)


def _pandas_column(a):
    """A column for pandas: nulls as pandas writes them (NaN for floats, the nullable Int64 and
    boolean types, NaT, None for strings)."""
    if not isinstance(a, np.ma.MaskedArray):
        return a
    import pandas as pd
    mask = np.ma.getmaskarray(a).copy()
    v = np.asarray(a.data)
    kind = v.dtype.kind
    if kind == "f":
        out = v.copy()
        out[mask] = np.nan
        return out
    if kind in "iu":
        return pd.arrays.IntegerArray(v.copy(), mask)
    if kind == "b":
        return pd.arrays.BooleanArray(v.astype(bool), mask)
    if kind == "M":
        out = v.copy()
        out[mask] = np.datetime64("NaT")
        return out
    out = v.astype(object)
    out[mask] = None
    return out


class Snapshot(_strata.Snapshot):
    __doc__ = _strata.Snapshot.__doc__

    def _typed(self, column, a):
        """A as the column's numpy type: ts as datetime64[ns] (a view, no copy)."""
        if a.dtype == np.int64 and self.schema_names.get(column) == "ts":
            return a.view("M8[ns]")
        return a

    def __getitem__(self, column):
        """COLUMN as a numpy array (a zero-copy view when it lies in one batch; ts columns as
        datetime64[ns]): a masked array (numpy.ma) when it holds nulls."""
        return _masked(self._typed(column, super().__getitem__(column)), self.valid(column))

    def read(self, column, start=None, stop=None, *, copy=False):
        a = self._typed(column, super().read(column, start, stop, copy=copy))
        return _masked(a, self.valid(column, start, stop))

    read.__doc__ = _strata.Snapshot.read.__doc__ + (
        "\nA column with nulls in those rows comes as a numpy masked array.")

    def export(self, path, format=None, columns=None, compression=None, group=None):
        """Write COLUMNS (None: all) of this snapshot to PATH as FORMAT: 'parquet' (a row group
        per batch; COMPRESSION 'snappy' (default), 'zstd', 'gzip' or 'none'), 'arrow' (an
        Arrow IPC file, a record batch per batch), 'npy' (a directory of NAME.npy, strings as
        '<U', NAME.valid.npy for nulls), 'hdf5' (GROUP, default '/', holds one 1-D dataset
        per column), or text: 'csv', 'tsv' (a line of the column names), 'json' (one array of
        row objects) or 'ndjson' (an object per line), values as `strata cat` prints them
        (floats in few digits that read back exactly, nulls empty in CSV, null in JSON).
        FORMAT None: from PATH's extension ('.parquet', '.arrow', '.feather', '.h5', '.hdf5',
        '.csv', '.tsv', '.json', '.ndjson', '.jsonl'; else 'npy'). The file is written under a
        temporary name and renamed when complete: a failure leaves nothing. The GIL is released
        meanwhile."""
        p = os.fspath(path)
        if format is None:
            exts = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow",
                    ".feather": "arrow", ".h5": "hdf5", ".hdf5": "hdf5", ".csv": "csv",
                    ".tsv": "tsv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
            format = next((f for e, f in exts.items() if os.fsdecode(p).endswith(e)), "npy")
        if format not in ("parquet", "arrow", "npy", "hdf5", "csv", "tsv", "json", "ndjson"):
            raise _strata.InvalidArgument(
                "format must be 'parquet', 'arrow', 'npy', 'hdf5', 'csv', 'tsv', 'json' or "
                f"'ndjson', not {format!r}")
        if compression is not None and format != "parquet":
            raise _strata.InvalidArgument("compression is for format='parquet'")
        if group is not None and format != "hdf5":
            raise _strata.InvalidArgument("group is for format='hdf5'")
        self._export(os.fsdecode(p), format, None if columns is None else list(columns),
                     compression, group)

    def batch(self, i, columns=None):
        views = super().batch(i, columns)
        info = self.batch_info(i)
        lo, hi = info["start"], info["start"] + info["rows"]
        return {c: _masked(self._typed(c, a), self.valid(c, lo, hi)) for c, a in views.items()}

    batch.__doc__ = _strata.Snapshot.batch.__doc__ + (
        "\nA column with nulls in the batch comes as a numpy masked array.")

    def __iter__(self):
        return iter(self.columns)

    def __contains__(self, column):
        return column in self.columns

    def keys(self):
        """The column names (a snapshot reads like a mapping of columns)."""
        return self.columns

    def batches(self, columns=None):
        """Iterate over the batches: one dict {column: numpy array} per batch, each array a
        zero-copy, read-only view of the batch's mapped file (string columns: object arrays of
        str). This is how to walk data larger than memory:

            total = 0.0
            for b in snap.batches(["fare"]):
                total += b["fare"].sum()

        A view keeps the snapshot open while it lives (copy it to keep it past close())."""
        for i in range(self.num_batches):
            yield self.batch(i, columns)

    def to_dict(self, columns=None):
        """{column: numpy array} of COLUMNS (None: all), each as snap[column] gives it."""
        cols = self.columns if columns is None else list(columns)
        return {c: self[c] for c in cols}

    def to_pandas(self, columns=None):
        """The snapshot (COLUMNS, None: all) as a pandas DataFrame (a copy; str columns are
        object columns of str). Nulls become NaN in float columns, pandas' nullable Int64 (and
        the like) and boolean types, NaT in timestamps and None in strings."""
        import pandas as pd
        cols = self.columns if columns is None else list(columns)
        data = {c: _pandas_column(self[c]) for c in cols}
        return pd.DataFrame(data, columns=cols, copy=True)

    def to_numpy(self, columns=None):
        """COLUMNS (None: all) as one numpy structured array with a field per column (a copy).
        When a string column is among them the result is instead a dict {column: array} (use
        to_dict() to always get one), since numpy's structured arrays hold fixed-width
        records."""
        cols = self.columns if columns is None else list(columns)
        data = {c: self[c] for c in cols}
        if any(a.dtype == object for a in data.values()):
            return data
        out = np.empty(len(self), dtype=[(c, data[c].dtype) for c in cols])
        for c in cols:
            out[c] = data[c]
        return out

    def head(self, n=5, columns=None):
        """The first N rows of COLUMNS (None: all) as a dict {column: array}."""
        n = min(max(int(n), 0), len(self))
        cols = self.columns if columns is None else list(columns)
        return {c: self.read(c, 0, n) for c in cols}

    def _repr_html_(self, kind="Snapshot", rows=10):
        head = {}
        for c in self.columns:
            try:
                head[c] = self.read(c, 0, min(rows, len(self)))
            except _strata.Stale:
                head[c] = ["(not computed)"] * min(rows, len(self))
        footer = (f"{kind} {self.name}: version {self.version}, {len(self)} rows in "
                  f"{self.num_batches} batches")
        return _html_table(f"{kind} {self.name} v{self.version}", self.schema_names, head,
                           len(self), footer)


DATASET_CLASSES = {"Dataset": Dataset, "Writer": Writer, "Snapshot": Snapshot,
                   "IngestStats": IngestStats}


# ---- Pool methods --------------------------------------------------------------------------------

class DatasetPoolMixin:
    """Pool methods for datasets: create_dataset, dataset, datasets, drop_dataset, snapshot,
    writer, ingest, check, gc."""

    def create_dataset(self, name, schema):
        """Create dataset 'region/name' (and its region on first use) with SCHEMA: a dict
        {column: dtype}, a list of (column, dtype) pairs, or a string 'fare:f64,zone:str'. A
        dtype is a Strata name ('i64', 'f64', 'bool', 'str', ...), a numpy dtype, or str.
        Returns the Dataset (version 0, no rows). Raises Exists if the name is taken, BadName
        for an invalid name, InvalidArgument for an empty or malformed schema, TypeMismatch
        for a dtype Strata cannot store."""
        return self._create_dataset(name, _schema_pairs(schema))

    def ingest(self, name, files, format=None, schema=None, batch_rows=None, progress=None,
               delimiter=None, null=None, publish_each=False, threads=None, path=None):
        """Ingest data into dataset 'region/name', creating it (and its region) when it does
        not exist; returns an IngestStats (files, rows, bytes_read, batches, version, seconds).

        FILES is one of:
          - a CSV path or a list of CSV paths (RFC 4180 with a header line naming the
            columns, matched to the dataset's by name);
          - NPY files (format='npy', inferred for '.npy' paths and directories): a dict
            {column: path}, a list of '.npy' paths (column = file name without '.npy'), or a
            directory holding NAME.npy per column; they form one batch (split by BATCH_ROWS);
          - Parquet files (format='parquet', inferred for '.parquet'): a batch per row group;
          - Arrow IPC files (format='arrow', inferred for '.arrow' and '.feather'): a batch per
            record batch;
          - an HDF5 file (format='hdf5', inferred for '.h5' and '.hdf5'): PATH names the group
            holding one 1-D dataset per column (default '/');
          - any object with __arrow_c_stream__ (a pyarrow Table or RecordBatchReader, a polars
            DataFrame, a strata Snapshot): its record batches, read zero-copy where they can be;
          - a pandas DataFrame or a dict {column: array or list}: written through a Writer.
        FORMAT: 'csv', 'npy', 'parquet', 'arrow' or 'hdf5' (None: from the extension). SCHEMA
        for a new CSV dataset: a dict or 'name:dtype,...' (None: inferred -- from a CSV's header
        and first 1000 rows as i64, f64, ts, bool or str; from the other formats' types).
        BATCH_ROWS: rows per batch (None: one batch per file, row group or record batch).
        DELIMITER: a one-character CSV delimiter (default ','). NULL: the CSV text of a null
        (default the empty field; a quoted "" is an empty string), in any column type.
        PUBLISH_EACH: publish every batch as written (default: all batches
        of the call are published together as one version, or none). THREADS: CSV parser
        threads (None: the pool's setting).

        PROGRESS: a callable(stats, total_bytes), called after every segment parsed; True for
        a progress bar on stderr; None (default) shows the bar only when stderr is a terminal.
        The callback runs in the ingesting thread; it may not call into this pool (that raises
        strata.Error). If it raises, it is not called again, the ingest runs to its end and the
        exception is raised afterwards.

        The GIL is released while files are parsed and written. Bad input raises
        InvalidArgument (or TypeMismatch, OutOfRange) naming file:line:column and the text,
        and nothing is published (a dataset this call created is dropped again). Missing
        files raise NotFound."""
        if hasattr(files, "__arrow_c_stream__") and not _is_dataframe(files):
            r = self._ingest_arrow(name, files.__arrow_c_stream__(), batch_rows=batch_rows,
                                   publish_each=bool(publish_each))
            return IngestStats(*r)
        if _is_dataframe(files) or isinstance(files, Mapping) and format != "npy" and not (
                files and all(isinstance(v, (str, os.PathLike)) for v in files.values())):
            return self._ingest_data(name, files, schema, batch_rows, progress, publish_each)
        if isinstance(files, Mapping):
            if format not in (None, "npy"):
                raise _strata.InvalidArgument(
                    "a dict {column: path} of files is NPY ingest (format='npy')")
            columns = list(files.keys())
            paths = [os.fspath(p) for p in files.values()]
            fmt = "npy"
        else:
            if isinstance(files, (str, bytes, os.PathLike)):
                files = [files]
            paths = [os.fspath(p) for p in files]
            if not paths:
                raise _strata.InvalidArgument("ingest: no files given")
            fmt = format
            if fmt is None:
                first = paths[0]
                first_s = os.fsdecode(first)
                exts = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow",
                        ".feather": "arrow", ".h5": "hdf5", ".hdf5": "hdf5"}
                fmt = "npy" if first_s.endswith(".npy") or os.path.isdir(first_s) else next(
                    (f for e, f in exts.items() if first_s.endswith(e)), "csv")
            columns = None
            if fmt == "npy":
                if len(paths) == 1 and os.path.isdir(paths[0]):
                    d = paths[0]
                    entries = sorted(e for e in os.listdir(d)
                                     if e.endswith(".npy") and not e.startswith("."))
                    if not entries:
                        raise _strata.InvalidArgument(f"directory '{d}' holds no .npy files")
                    paths = [os.path.join(d, e) for e in entries]
                columns = [os.path.basename(os.fsdecode(p))[:-4]
                           if os.fsdecode(p).endswith(".npy") else None for p in paths]
                if None in columns:
                    raise _strata.InvalidArgument(
                        "NPY ingest takes a dict {column: path}, '.npy' files or a directory")
        if fmt not in ("csv", "npy", "parquet", "arrow", "hdf5"):
            raise _strata.InvalidArgument(
                f"format must be 'csv', 'npy', 'parquet', 'arrow' or 'hdf5', not {fmt!r}")
        if path is not None and fmt != "hdf5":
            raise _strata.InvalidArgument("path is the group of an HDF5 file (format='hdf5')")
        schema_s = _schema_string(schema) if schema is not None else None
        cb, bar = _progress_callable(progress)
        wrapped = None
        if cb is not None:
            def wrapped(files_, rows, bytes_read, batches, version, seconds, total):
                cb(IngestStats(files_, rows, bytes_read, batches, version, seconds), total)
        try:
            r = self._ingest(name, paths, columns, schema=schema_s, batch_rows=batch_rows,
                             delimiter=delimiter, null=null, publish_each=bool(publish_each),
                             threads=threads, progress=wrapped,
                             format=fmt if fmt in ("parquet", "arrow", "hdf5") else None,
                             path=path)
        finally:
            if bar is not None:
                bar.close()
        return IngestStats(*r)

    def _ingest_data(self, name, data, schema, batch_rows, progress, publish_each):
        """ingest() of a DataFrame or a dict of arrays: batches through a Writer."""
        t0 = time.monotonic()
        cols = _columns_of(data, f"ingest into '{name}'")
        if not cols:
            raise _strata.InvalidArgument(f"ingest into '{name}': no columns given")
        created = False
        try:
            ds = self.dataset(name)
        except _strata.NotFound:
            ds = self.create_dataset(name, schema if schema is not None else _infer_schema(cols))
            created = True
        cb, bar = _progress_callable(progress)
        lengths = {len(v) for v in cols.values()}
        n = max(lengths) if lengths else 0
        step = int(batch_rows) if batch_rows else max(n, 1)
        if step <= 0:
            raise _strata.InvalidArgument("batch_rows must be a positive number of rows")
        stats = IngestStats()
        nbytes = int(sum(getattr(v, "nbytes", 0) for v in cols.values()))
        ok = False
        try:
            with ds, ds.writer() as w:
                for start in range(0, max(n, 1), step):
                    part = {k: v[start:start + step] for k, v in cols.items()}
                    stats.rows += w.append(part)
                    stats.batches += 1
                    if publish_each:
                        stats.version = w.publish()
                    stats.bytes_read = nbytes * min(start + step, n) // n if n else 0
                    stats.seconds = time.monotonic() - t0
                    if cb is not None:
                        cb(stats, nbytes)
            if not publish_each:
                stats.version = w.version or 0
            ok = True
        finally:
            if bar is not None:
                bar.close()
            if not ok and created and not stats.version:
                try:
                    self.drop_dataset(name)
                except _strata.Error:
                    pass
        stats.seconds = time.monotonic() - t0
        return stats
