import ctypes.util

from backend.runtime import tune_allocator


def test_allocator_thresholds_apply_exactly_where_glibc_is():
    # glibc accepts both mallopt settings; elsewhere nothing changes and it says so.
    assert tune_allocator() is (ctypes.util.find_library("c") == "libc.so.6")
