"""Fixtures of the Python package's tests: a fresh pool per test, the CLI for comparisons."""
import os
import subprocess

import pytest

import strata


@pytest.fixture
def pool_path(tmp_path):
    """A path for a new pool (under the test's temporary directory)."""
    return str(tmp_path / "pool")


@pytest.fixture
def pool(pool_path):
    """A new, open pool, closed after the test."""
    with strata.Pool(pool_path, create=True) as p:
        yield p


@pytest.fixture
def cli():
    """Run the strata command: cli(pool_path, 'show', 'taxi/trips') -> stdout (str)."""
    exe = os.environ.get("STRATA_CLI")
    if not exe:
        pytest.skip("STRATA_CLI not set (run through ctest)")

    def run(pool_path, *args, check=True):
        r = subprocess.run([exe, "-P", pool_path, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"strata {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r.stdout if check else r

    return run
