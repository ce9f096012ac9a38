"""Counter-based random numbers keyed by family: what makes common random numbers work.

Every draw is a hash of (run seed, family key, purpose, how many draws this
family has made for this purpose). A family's key comes from when and in
what order it arrived, never from a global index. Two scenarios run with
one seed therefore give each family the same random numbers, however
differently other families fare; differences stay with the families they
touch instead of shifting every later draw of a shared stream.

The hash is the SplitMix64 finaliser, which passes BigCrush as a counter-based
generator. Gamma variates use Marsaglia and Tsang's exact rejection method
on these uniforms, so no draw depends on scipy.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of uint64 values (wraps modulo 2**64)."""
    z = np.asarray(x, np.uint64) + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def family_keys(seed: int, kind: int, batch: int, n: int) -> np.ndarray:
    """Keys of ``n`` families arriving together: (run seed, kind of arrival, batch number, order in batch)."""
    base = mix(np.array([seed ^ (kind << 56) ^ (batch << 24)], np.uint64))[0]
    return mix(np.arange(n, dtype=np.uint64) ^ base)


def _unit(z: np.ndarray) -> np.ndarray:
    return ((z >> _S11).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


class FamilyRandom:
    """Uniform, exponential and gamma draws for families, from their keys and per-purpose counters.

    Args:
        families: the column store; its ``key`` and ``draws`` columns are used
            (``draws`` holds uint16 counters; by default purpose ``k`` counts in column ``k``).
        seed: the run's seed (replications and scenarios with one seed share it).
    """

    def __init__(self, families, seed: int) -> None:
        self.families = families
        self.seed = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)

    def _raw(self, ids: np.ndarray, purpose: int, counter: np.ndarray) -> np.ndarray:
        salt = np.uint64((purpose * 0xD1B54A32D192ED03) & 0xFFFFFFFFFFFFFFFF)
        x = self.families.key[ids] ^ mix(counter.astype(np.uint64) + salt)
        return _unit(mix(x ^ self.seed))

    def uniform(self, ids: np.ndarray, purpose: int, advance: bool = True, counter: int | None = None) -> np.ndarray:
        """One uniform in (0, 1) per family; ``advance=False`` peeks without using it up.

        ``counter`` names the ``draws`` column to count in, when several purposes share one.
        """
        draws = self.families.draws
        col = purpose if counter is None else counter
        k = draws[ids, col]
        if advance:
            draws[ids, col] = k + 1
        return self._raw(ids, purpose, k)

    def exponential(self, ids: np.ndarray, purpose: int) -> np.ndarray:
        """Exponential(1) variates."""
        return -np.log(self.uniform(ids, purpose))

    def gamma(
        self,
        ids: np.ndarray,
        purpose: int,
        shape: float,
        scale: float,
        advance: bool = True,
        counter: int | None = None,
    ) -> np.ndarray:
        """Gamma(shape, scale) variates, exact (Marsaglia-Tsang); one counter step per family per call."""
        draws = self.families.draws
        col = purpose if counter is None else counter
        k = draws[ids, col].astype(np.uint64)
        if advance:
            draws[ids, col] += 1
        # Each call owns a block of 2**16 sub-counters: attempt j of call k uses k * 65536 + 4j + {0,1,2,3}.
        base = k << np.uint64(16)
        a = shape + 1.0 if shape < 1 else shape
        d = a - 1.0 / 3.0
        c = 1.0 / np.sqrt(9.0 * d)
        out = np.empty(ids.size)
        pending = np.arange(ids.size)
        attempt = 0
        while pending.size:
            sub = base[pending] + np.uint64(4 * attempt)
            p_ids = ids[pending]
            u1 = self._raw(p_ids, purpose, sub)
            u2 = self._raw(p_ids, purpose, sub + np.uint64(1))
            u3 = self._raw(p_ids, purpose, sub + np.uint64(2))
            x = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
            v = (1.0 + c * x) ** 3
            with np.errstate(invalid="ignore", divide="ignore"):
                ok = (v > 0) & (np.log(u3) < 0.5 * x * x + d - d * v + d * np.log(np.where(v > 0, v, 1.0)))
            out[pending[ok]] = d * v[ok]
            pending = pending[~ok]
            attempt += 1
        if shape < 1:
            u4 = self._raw(ids, purpose, base + np.uint64(3))
            out *= u4 ** (1.0 / shape)
        return out * scale
