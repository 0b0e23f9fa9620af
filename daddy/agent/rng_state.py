"""NumPy Generator state as a plain uint64 array, so checkpoints never pickle objects.

A PCG64 state is two 128-bit integers plus a cached 32-bit half-draw; Python ints that big do
not fit any array dtype, so each is split into two uint64 words (low, high).
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
RNG_STATE_WORDS = 6  # state lo/hi, inc lo/hi, has_uint32, uinteger


def make_rng(seed: int | np.random.SeedSequence) -> np.random.Generator:
    """A PCG64 generator: the only bit generator these helpers can serialise."""
    return np.random.Generator(np.random.PCG64(seed))


def rng_to_array(rng: np.random.Generator) -> np.ndarray:
    """The generator's full state as uint64[6]."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise ValueError(f"only PCG64 generators can be saved, got {st['bit_generator']}")
    s, inc = int(st["state"]["state"]), int(st["state"]["inc"])
    words = [s & _MASK64, s >> 64, inc & _MASK64, inc >> 64, st["has_uint32"], st["uinteger"]]
    return np.array(words, dtype=np.uint64)


def rng_from_array(words: np.ndarray) -> np.random.Generator:
    """A generator restored from `rng_to_array`'s output; it continues the same stream."""
    w = [int(x) for x in np.asarray(words, dtype=np.uint64).reshape(-1)]
    if len(w) != RNG_STATE_WORDS:
        raise ValueError(f"RNG state must have {RNG_STATE_WORDS} uint64 words, got {len(w)}")
    rng = make_rng(0)
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": w[0] | (w[1] << 64), "inc": w[2] | (w[3] << 64)},
        "has_uint32": w[4],
        "uinteger": w[5],
    }
    return rng
