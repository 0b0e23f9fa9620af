"""Q-network presets: parameter counts, and CPU time of the acting step and the learning unroll.

For each preset of `MODEL_CONFIGS`:
  params                 trainable scalars (the README's table)
  step_ms_b1 / _b<envs>  one `QNetwork.step` (acting) for 1 env and for --num-envs envs
  seq_fwd_bwd_ms         one learner batch: `sequence` over (T, B) = (65, --batch) + backward
  *_cpu_ms               the same as process CPU time (less sensitive to a busy machine)

    python bench/networks.py [--num-envs 32] [--batch 32] [--threads 1] [--repeats 20]

Timings are medians over --repeats calls after a warm-up, on --threads torch threads (1 by
default: the trainer's envs use the other cores). Last stdout line:
{"bench": "networks", "slim_params": ..., "large_params": ..., ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from daddy.agent.actor import AgentConfig
from daddy.agent.networks import MODEL_CONFIGS, QNetwork, count_parameters, model_config
from daddy.game.spec import FEATURE_DIM, NUM_MAPS, NUM_SHADES, SCREEN_SHAPE


def fake_obs(lead: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """Random observations with the env's shapes and dtypes."""
    return {
        "screen": torch.randint(0, NUM_SHADES, (*lead, *SCREEN_SHAPE), dtype=torch.uint8),
        "map_id": torch.randint(0, NUM_MAPS, lead),
        "features": torch.randn(*lead, FEATURE_DIM),
    }


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of `fn`, after two warm-up calls.

    CPU time is the steadier number on a shared machine: other jobs stretch wall time only.
    """
    fn(), fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def measure(size: str, num_envs: int, batch: int, repeats: int) -> dict[str, float]:
    """Parameter count and the three timings of one preset."""
    torch.manual_seed(0)
    net = QNetwork(model_config(size))
    out: dict[str, float] = {"params": count_parameters(net), "state_size": net.state_size}
    for b in sorted({1, num_envs}):
        obs, state = fake_obs((b,)), net.initial_state(b)
        with torch.no_grad():
            out[f"step_ms_b{b}"], out[f"step_cpu_ms_b{b}"] = median_ms(
                lambda o=obs, s=state: net.step(o, s), repeats
            )
    T = AgentConfig().window
    seq, state, resets = fake_obs((T, batch)), net.initial_state(batch), torch.zeros(T, batch)

    def learn() -> None:
        """What one learner update costs the net (no optimizer, no targets)."""
        q, _ = net.sequence(seq, state, resets)
        q.mean().backward()

    out["seq_fwd_bwd_ms"], out["seq_fwd_bwd_cpu_ms"] = median_ms(learn, max(3, repeats // 4))
    out["seq_T"], out["seq_B"] = T, batch
    return out


def main() -> None:
    """Measure every preset, print a line each and the JSON summary."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--batch", type=int, default=32, help="sequences per learner batch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = {
        size: measure(size, args.num_envs, args.batch, args.repeats) for size in MODEL_CONFIGS
    }
    for size, r in results.items():
        print(f"{size:>6}: {r['params']:,} params, state {r['state_size']} floats, step "
              f"{r['step_ms_b1']:.2f} ms (1 env) / {r[f'step_ms_b{args.num_envs}']:.2f} ms "
              f"({args.num_envs} envs), learner batch {r['seq_T']}x{r['seq_B']} fwd+bwd "
              f"{r['seq_fwd_bwd_ms']:.0f} ms (cpu {r['seq_fwd_bwd_cpu_ms']:.0f} ms)")  # fmt: skip
    print(json.dumps({
        "bench": "networks", "device": "cpu", "threads": args.threads,
        **{f"{size}_{k}": round(v, 3) if isinstance(v, float) else v
           for size, r in results.items() for k, v in r.items()},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
