__version__ = "0.1.0"
import os as _os
# Idle OpenMP threads sleep instead of spinning, unless the user chose otherwise. It must be set before torch loads
# OpenMP, so it lives here: on a CPU shared with other work, spinning threads of small convolutions wait on each other
# and on the other process (00_core, "Threads on a shared CPU"; `fsdd_bench --what threads` measures it).
_os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
