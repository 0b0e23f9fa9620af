"""What the run costs the machine right now: CPU, memory (the trainer and its emulator workers),
GPU memory. Flat `system/<name>` numbers for the scalar log and the dashboard."""

from __future__ import annotations

import psutil  # snakemake's dependency, so always installed with the pipeline

GB = 1024**3


class SystemUse:
    """Samples system use; CPU percentages are averages since the previous sample."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point

    def sample(self) -> dict[str, float]:
        out = {"system/cpu_percent": float(psutil.cpu_percent(interval=None)),
               "system/rss_gb": self._tree_rss() / GB,
               "system/mem_percent": float(psutil.virtual_memory().percent)}  # fmt: skip
        out.update(_gpu())
        return out

    def _tree_rss(self) -> int:
        """Resident memory of the trainer and its children (emulator workers, video jobs)."""
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass  # a worker that just exited or restarted
        return total


def _gpu() -> dict[str, float]:
    """GPU memory of this process when torch already uses CUDA (never initialises it)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {}
    return {"system/gpu_mem_gb": torch.cuda.memory_allocated() / GB,
            "system/gpu_max_mem_gb": torch.cuda.max_memory_allocated() / GB}  # fmt: skip
