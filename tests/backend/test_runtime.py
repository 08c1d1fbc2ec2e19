import ctypes.util

import pytest

from backend.runtime import tune_allocator


@pytest.mark.skipif(ctypes.util.find_library("c") != "libc.so.6", reason="glibc only")
def test_glibc_accepts_the_allocator_thresholds():
    assert tune_allocator() is True
