"""Speed and memory of the Monte Carlo Rademacher estimator (ltbound.bounds.rademacher, Eq. 5).

Times, in one run, on a (64, 50000) float32 loss matrix with 1000 sign draws:

(a) ``rademacher_monte_carlo`` (sign generation, products, max, mean, deviation bound);
(b) one bare float32 product (1000, 50000) @ (50000, 64) with the signs already made:
    the floor, since this product is the estimator's core work;
(c) a straightforward per-draw loop (draw a sign vector, matrix-vector product, max).

It prints seconds (best of ``--repeats``), the ratios mc/bare and loop/mc, and the peak
memory traced (tracemalloc) inside the estimator for 1000 and 4000 draws and for a memmap
read in small chunks, to show that memory does not grow with the draws or with n.

Run:  python benchmarks/bench_rademacher.py [--quick]
(from the repository root, with ltbound installed or PYTHONPATH=.). On a shared machine
run it also with OPENBLAS_NUM_THREADS=1: the estimator makes ~13 BLAS calls where the
floor makes one, and each multi-threaded call waits for all its threads, so under load
from other processes the multi-threaded ratio inflates; single-threaded it does not.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

import numpy as np

from ltbound.bounds.rademacher import rademacher_monte_carlo


def best_time(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls, after one warm-up call."""
    return min(interleaved_times([fn], repeats)[0])


def interleaved_times(fns, repeats: int) -> list[list[float]]:
    """Wall times of ``repeats`` rounds, each calling every function once in turn.

    Interleaving makes a burst of load from other processes hit all cases alike, so that
    their ratio stays meaningful on a shared machine.
    """
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return times


def peak_mib(fn) -> float:
    """Peak memory (MiB) allocated through numpy/Python while ``fn`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter loop timing")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 9, quick 3)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 9)

    num_params, n, draws = 64, 50_000, 1000
    rng = np.random.default_rng(0)
    losses = rng.exponential(1.0, size=(num_params, n)).astype(np.float32)
    losses_t = np.ascontiguousarray(losses.T)
    signs = (rng.integers(0, 2, size=(draws, n), dtype=np.int8) * 2 - 1).astype(np.float32)

    mc_times, bare_times = interleaved_times(
        [lambda: rademacher_monte_carlo(losses, num_draws=draws, seed=1), lambda: signs @ losses_t], repeats)
    t_mc, t_bare = min(mc_times), min(bare_times)
    ratio_median = float(np.median(np.array(mc_times) / np.array(bare_times)))

    def loop(num: int) -> float:
        g = np.random.default_rng(2)
        w = np.float32(1.0 / n)
        total = 0.0
        for _ in range(num):
            s = g.integers(0, 2, size=n, dtype=np.int8).astype(np.float32) * 2 - 1
            total += float((losses @ s).max()) * w
        return total / num

    # The loop is linear in the draws; time a fraction of them in quick mode and scale.
    loop_draws = 200 if args.quick else draws
    t_loop = best_time(lambda: loop(loop_draws), 1 if args.quick else min(repeats, 2)) * draws / loop_draws

    est = rademacher_monte_carlo(losses, num_draws=draws, seed=1)
    print(f"loss matrix {losses.shape} float32, {draws} sign draws, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"estimate: value {est.value:.6g}  std_error {est.std_error:.3g}  upper {est.upper:.6g}")
    print(f"(a) rademacher_monte_carlo     {t_mc:8.4f} s")
    print(f"(b) bare product (floor)       {t_bare:8.4f} s")
    print(f"(c) per-draw Python loop       {t_loop:8.4f} s" + ("  (scaled from 200 draws)" if args.quick else ""))
    print(f"ratio mc/bare  {t_mc / t_bare:6.2f}   (best of each; median of paired rounds "
          f"{ratio_median:.2f}; target <= 1.5)")
    print(f"ratio loop/mc  {t_loop / t_mc:6.2f}")

    # Memory: traced peak inside the estimator, the input matrix excluded (allocated before).
    p1 = peak_mib(lambda: rademacher_monte_carlo(losses, num_draws=1000, seed=1))
    p4 = peak_mib(lambda: rademacher_monte_carlo(losses, num_draws=4000, seed=1))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "losses.f32")
        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=losses.shape)
        mm[:] = losses
        mm.flush()
        ro = np.memmap(path, dtype=np.float32, mode="r", shape=losses.shape)
        pm = peak_mib(lambda: rademacher_monte_carlo(ro, num_draws=1000, seed=1, chunk_size=4096))
        same = rademacher_monte_carlo(ro, num_draws=1000, seed=1, chunk_size=4096).value == est.value
        del mm, ro
    print(f"peak traced memory: {p1:.1f} MiB (1000 draws), {p4:.1f} MiB (4000 draws), "
          f"{pm:.1f} MiB (memmap, chunk_size 4096); input matrix {losses.nbytes / 2 ** 20:.1f} MiB; "
          f"bare product's sign matrix {signs.nbytes / 2 ** 20:.1f} MiB")
    print(f"memmap/chunked value identical to in-memory: {same}")


if __name__ == "__main__":
    main()
