__version__ = "0.1.0"
import os as _os
# Idle OpenMP threads sleep instead of spinning, unless the user chose otherwise. It must be set before torch loads
# OpenMP, so it lives here: on a CPU shared with other work, spinning threads of small convolutions wait on each other
# and on the other process (00_core, "Threads on a shared CPU"; `fsdd_bench --what threads` measures it).
_os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

def _tune_malloc():
    # glibc gives every allocation above 32 MB (a batch of activations at 32 px) its own fresh mapping and returns it
    # on free, so each pass pays the page faults of touching that memory again: ReLU's backward ran at about 1 GB/s.
    # Keeping freed memory in the heap makes the distillation 1.4 to 1.7 times faster (00_core, "Memory on the CPU").
    # FSDD_MALLOC=default leaves glibc's settings alone; `fsdd_nb.core.set_malloc` switches it at any time.
    if _os.environ.get('FSDD_MALLOC', '').lower() == 'default': return False
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        return bool(libc.mallopt(-4, 0)) and bool(libc.mallopt(-1, 1 << 30))   # M_MMAP_MAX = 0, M_TRIM_THRESHOLD = 1 GiB
    except (OSError, AttributeError): return False   # not glibc (macOS, Windows, musl): nothing to do

MALLOC_TUNED = _tune_malloc()
