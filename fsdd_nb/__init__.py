__version__ = "0.1.0"
import os as _os
# Idle OpenMP threads sleep instead of spinning, unless the user chose otherwise. It must be set before torch loads
# OpenMP, so it lives here: on a CPU shared with other work, spinning threads of small convolutions wait on each other
# and on the other process (00_core, "Threads on a shared CPU"; `fsdd_bench --what threads` measures it).
_os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

def _mallopt(tuned: bool) -> bool:
    # glibc gives every allocation above 32 MB (a batch of activations at 32 px) its own fresh mapping and returns it
    # on free, so each pass pays the page faults of touching that memory again: ReLU's backward ran at about 1 GB/s.
    # Keeping freed memory in the heap makes caching 1.8 times faster in float32 (00_core, "Memory on the CPU").
    # `tuned=False` restores glibc's defaults. Lives here so that it runs before any large allocation.
    import ctypes
    libc = ctypes.CDLL('libc.so.6')
    return bool(libc.mallopt(-4, 0 if tuned else 65536)) and bool(libc.mallopt(-1, (1 << 30) if tuned else 128 * 1024))   # M_MMAP_MAX, M_TRIM_THRESHOLD

def _malloc_at_import() -> str:
    # FSDD_MALLOC=default leaves glibc's settings alone; `fsdd_nb.core.set_malloc` switches them at any time.
    try:
        if _os.environ.get('FSDD_MALLOC', '').lower() == 'default':
            import ctypes; ctypes.CDLL('libc.so.6'); return 'default'
        return 'tuned' if _mallopt(True) else 'default'
    except (OSError, AttributeError): return 'n/a'   # not glibc (macOS, Windows, musl): nothing to do

MALLOC = _malloc_at_import()   # 'tuned', 'default' or 'n/a'; read it with fsdd_nb.core.malloc_state()
