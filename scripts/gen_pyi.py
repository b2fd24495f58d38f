"""Generate python/strata/__init__.pyi, the type stub of the strata package, from the built
package itself, so that every public class, method and property is in it and none that is not.

    PYTHONPATH=build/release/python /usr/bin/python3 scripts/gen_pyi.py [--check]

Signatures come from the methods (C methods carry text signatures in their docstrings); the types
of results and properties come from the table RETURNS below (Any where it says nothing).
--check compares with the committed stub and fails when they differ (a ctest runs it).
"""
import inspect
import os
import sys

import strata

STUB = os.path.join(os.path.dirname(__file__), "..", "python", "strata", "__init__.pyi")

# "Class.member": the type of a method's result or a property's value.
RETURNS = {
    "Pool.array": "Array", "Pool.create_array": "Array", "Pool.arrays": "list[str]",
    "Pool.regions": "list[str]", "Pool.backups": "list[str]", "Pool.path": "str",
    "Pool.closed": "bool", "Pool.__enter__": "Pool",
    "Pool.dataset": "Dataset", "Pool.create_dataset": "Dataset", "Pool.datasets": "list[str]",
    "Pool.snapshot": "Snapshot", "Pool.ingest": "IngestStats",
    "Pool.check": "list[dict[str, Any]]", "Pool.gc": "dict[str, int]",
    "Pool.update": "UpdateStats", "Pool.lineage": "dict[str, Any]",
    "Pool.ndarray": "NdArray", "Pool.create_ndarray": "NdArray", "Pool.ndarrays": "list[str]",
    "Pool.tiers": "list[dict[str, Any]]", "Pool.migrate": "int",
    "Pool.runs": "Any", "Pool.find": "Any", "Pool.explain": "dict[str, Any]",
    "Pool.mdms": "Mdms",
    "Array.__len__": "int", "Array.__getitem__": "Any", "Array.numpy": "np.ndarray",
    "Array.dtype": "np.dtype", "Array.dtype_name": "str", "Array.name": "str",
    "Array.closed": "bool", "Array.pool": "Pool", "Array.info": "dict[str, Any]",
    "Array.checksum": "int", "Array.locked": "bool", "Array.tolist": "list[Any]",
    "Array.__enter__": "Array",
    "Dataset.snapshot": "Snapshot", "Dataset.writer": "Writer", "Dataset.name": "str",
    "Dataset.num_rows": "int", "Dataset.version": "int", "Dataset.log": "list[dict[str, Any]]",
    "Dataset.__enter__": "Dataset",
    "Snapshot.__getitem__": "np.ndarray", "Snapshot.__len__": "int",
    "Snapshot.to_pandas": "pd.DataFrame", "Snapshot.stats": "dict[str, Any]",
    "Snapshot.batches": "Iterator[dict[str, np.ndarray]]", "Snapshot.version": "int",
    "Snapshot.__enter__": "Snapshot",
    "Writer.publish": "int", "Writer.__enter__": "Writer",
    "NdArray.__getitem__": "np.ndarray", "NdArray.numpy": "np.ndarray",
    "NdArray.shape": "tuple[int, ...]", "NdArray.chunks": "tuple[int, ...]",
    "NdArray.dtype": "np.dtype", "NdArray.ndim": "int", "NdArray.size": "int",
    "NdArray.append": "int", "NdArray.info": "dict[str, Any]", "NdArray.name": "str",
    "NdArray.read": "np.ndarray", "NdArray.__enter__": "NdArray", "NdArray.__len__": "int",
}

DUNDERS = {"__getitem__", "__setitem__", "__len__", "__iter__", "__enter__", "__exit__",
           "__contains__", "__array__"}


def public_members(cls):
    names = []
    for name in sorted(dir(cls)):
        if name.startswith("_") and name not in DUNDERS:
            continue
        if name.startswith("_") and not any(name in vars(k) for k in cls.__mro__[:-1]):
            continue
        names.append(name)
    return names


def signature_of(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return "(self, *args: Any, **kwargs: Any)"
    params = list(sig.parameters.values())
    if not params or params[0].name not in ("self", "$self"):
        params.insert(0, inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD))
    out = []
    star = False
    for p in params:
        name = p.name.lstrip("$")
        if p.kind is p.VAR_POSITIONAL:
            out.append(f"*{name}: Any")
            star = True
            continue
        if p.kind is p.VAR_KEYWORD:
            out.append(f"**{name}: Any")
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        text = name if name == "self" else f"{name}: Any"
        if p.default is not p.empty:
            text += f" = {p.default!r}" if p.default is None or isinstance(
                p.default, (bool, int, float, str)) else " = ..."
        out.append(text)
    return "(" + ", ".join(out) + ")"


def stub_class(cls, name):
    bases = [b.__name__ for b in cls.__bases__ if b.__module__ != "strata._strata"
             and b.__name__ in strata.__all__ and b.__name__ != name]
    lines = [f"class {name}({', '.join(bases)}):" if bases else f"class {name}:"]
    doc = (cls.__doc__ or "").strip().splitlines()
    if doc:
        lines.append(f'    """{doc[0] if "--" not in doc[0] else name}"""')
    for member in public_members(cls):
        attr = inspect.getattr_static(cls, member)
        ret = RETURNS.get(f"{name}.{member}", "Any")
        if isinstance(attr, (property,)) or type(attr).__name__ in ("getset_descriptor",
                                                                     "member_descriptor"):
            lines.append(f"    @property\n    def {member}(self) -> {ret}: ...")
        elif callable(attr) or isinstance(attr, (staticmethod, classmethod)):
            if member == "__setitem__":
                ret = "None"
            if member == "__exit__":
                lines.append(f"    def __exit__(self, *exc: Any) -> Any: ...")
                continue
            if member == "__enter__":
                lines.append(f"    def __enter__(self) -> {ret}: ...")
                continue
            lines.append(f"    def {member}{signature_of(getattr(cls, member))} -> {ret}: ...")
        else:
            lines.append(f"    {member}: {ret}")
    return "\n".join(lines)


def generate():
    out = ['"""Type stub of the strata package (generated by scripts/gen_pyi.py; do not edit)."""',
           "from typing import Any, Iterator", "", "import numpy as np", "import pandas as pd",
           "", f'__version__: str', ""]
    errors, classes = [], []
    for name in strata.__all__:
        obj = getattr(strata, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            errors.append(name)
        elif isinstance(obj, type):
            classes.append(name)
        else:
            out.append(f"def {name}{signature_of(obj).replace('(self, ', '(').replace('(self)', '()')}"
                       f" -> Any: ...")
    out.append("")
    out.append("class Error(Exception):\n    code: int\n    errname: str")
    for name in errors:
        if name == "Error":
            continue
        extra = [b.__name__ for b in getattr(strata, name).__bases__ if b is not strata.Error]
        out.append(f"class {name}(Error{''.join(', ' + e for e in extra)}): ...")
    out.append("")
    for name in classes:
        out.append(stub_class(getattr(strata, name), name))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    text = generate()
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        with open(STUB) as f:
            if f.read() != text:
                sys.exit(f"{STUB} is out of date: run scripts/gen_pyi.py with the built package "
                         "on PYTHONPATH")
        print("stub up to date")
        return
    with open(STUB, "w") as f:
        f.write(text)
    print(f"wrote {STUB}")


if __name__ == "__main__":
    main()
