"""The paper's ablation tables (Tables 5-11, Figs. 3-6) as runnable studies: the command line.

    python experiments/paper_tables.py --table 6                  # digits-lt proxy, imbalance 50, 3 seeds
    python experiments/paper_tables.py --table all                # every study, sharing runs
    python experiments/paper_tables.py --table 9 --seeds 10
    python experiments/paper_tables.py --table 5 --dataset cifar10-lt --data-dir DIR   # the paper's recipe (GPU)

Each study (``experiments/paper_studies/table<N>.py``) trains (or reuses) run records with the
trainer through the shared run cache (``paper_studies/runs.py``: a record folder per
configuration, so the same configuration is never trained twice and studies share runs),
prints its table beside the paper's numbers (``ltbound.published``) with a one-line verdict,
and this script writes ``<out>/table<N>/results.json`` (every run's configuration and results)
and, for Table 11, the PNGs of Figs. 3-6. Recipes shortened with ``--epochs`` scale as the
package docstring of ``paper_studies`` says.

The digits default is a proxy (an 8x8 digits set made long-tailed, a 24k-parameter net, 30 epochs):
a verdict "not detectable at this size" means the proxy cannot tell, not that the paper is wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATASETS = ("digits-lt", "cifar10-lt")


def _load_studies():
    """The package ``paper_studies`` beside this file, imported from its path (no sys.path change),
    whether this file runs as a script or is loaded by path (the tests)."""
    if "paper_studies" not in sys.modules:
        folder = Path(__file__).resolve().parent / "paper_studies"
        spec = importlib.util.spec_from_file_location("paper_studies", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["paper_studies"] = module
        spec.loader.exec_module(module)
    return sys.modules["paper_studies"]


_studies = _load_studies()
from paper_studies import STUDIES, STUDY_FUNCS, TITLES  # noqa: E402  (loaded just above)
from paper_studies.runs import Setup  # noqa: E402
from paper_studies.stats import mean_std, ordering_verdict, paired_difference, row  # noqa: E402

#: what the command line offers, and the shared statistics a caller (the tests) reaches through it
__all__ = ["main", "build_parser", "run_study", "STUDIES", "TITLES", "STUDY_FUNCS", "Setup", "mean_std",
           "ordering_verdict", "paired_difference", "row"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="paper_tables.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the Switching paper's ablation tables (5-11, Figs. 3-6) as studies; print each beside "
                    "the paper's numbers with a verdict, write results.json (and PNGs for Table 11).")
    p.add_argument("--table", required=True, choices=(*STUDIES, "all"), help="which study ('all': every one)")
    p.add_argument("--dataset", default="digits-lt", choices=DATASETS,
                   help="digits-lt: the CPU proxy; cifar10-lt: the paper's setting (wants a GPU)")
    p.add_argument("--data-dir", help="CIFAR-10 source (torchvision folder, image tree or the JPEG archive)")
    p.add_argument("--imbalance", type=float, default=50.0, help="n_max / n_min of the training set")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..K-1 per setting (default 3; Table 9: 5)")
    p.add_argument("--epochs", type=int, default=None,
                   help="shorten the preset's recipe to E epochs (milestones, warm-up and S scale with it)")
    p.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    p.add_argument("--max-test-per-class", type=int, default=None, help="keep at most this many test images per class")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default 1 for digits-lt: its tiny batches run fastest on one thread)")
    p.add_argument("--out", default="out/paper_tables", help="folder for runs/, features/ and table<N>/")
    p.add_argument("--quiet", action="store_true", help="print only the tables")
    return p


def check_args(parser: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    if a.seeds is not None and a.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {a.seeds}")
    if a.table in ("9", "all") and a.seeds is not None and a.seeds < 2:
        parser.error(f"--table {a.table} includes Table 9, whose variance needs --seeds >= 2 independently "
                     f"trained models, got {a.seeds} (its default is 5)")
    if a.epochs is not None and a.epochs < 4:
        parser.error(f"--epochs must be >= 4 (a decay, a switch and Table 7's middle stage need room), got {a.epochs}")
    if not a.imbalance >= 1:
        parser.error(f"--imbalance must be >= 1, got {a.imbalance}")
    if a.dataset != "digits-lt" and not a.data_dir:
        parser.error(f"--dataset {a.dataset} needs --data-dir (e.g. ../shared/data/cifar10-jpeg.tar.xz)")
    if a.max_test_per_class is not None and a.max_test_per_class < 1:
        parser.error(f"--max-test-per-class must be >= 1, got {a.max_test_per_class}")
    if a.batch_size is not None and a.batch_size < 1:
        parser.error(f"--batch-size must be >= 1, got {a.batch_size}")


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    return o


def run_study(n: str, a: argparse.Namespace) -> dict:
    from ltbound.records import load_record

    seeds = a.seeds if a.seeds is not None else (5 if n == "9" else 3)
    st = Setup(dataset=a.dataset, data_dir=a.data_dir, imbalance=a.imbalance, seeds=tuple(range(seeds)),
               epochs=a.epochs, batch_size=a.batch_size, max_test_per_class=a.max_test_per_class, device=a.device,
               out=Path(a.out), quiet=a.quiet)
    t0 = time.perf_counter()
    res = STUDY_FUNCS[n](st)
    seconds = time.perf_counter() - t0
    used = sorted({str(p) for r in res["rows"] for p in r.get("runs", {}).values()})
    runs = []
    for path in used:
        rec = load_record(path)
        runs.append({"path": path, "config": rec.manifest["config"], "schedule": rec.manifest["schedule"],
                     "final_balanced_test_accuracy": float(rec.balanced_test_accuracy()[-1]),
                     "final_test_accuracy": float(rec.test_accuracy()[-1]), "epochs": int(rec.epochs[-1]),
                     "train_seconds": rec.manifest.get("timings", {}).get("total_seconds")})
    doc = {"study": f"table{n}", "title": TITLES[n], "command": [sys.argv[0], *sys.argv[1:]],
           "setup": {"dataset": st.dataset, "data_dir": st.data_dir, "imbalance": st.imbalance, "seeds": list(st.seeds),
                     "base_recipe": st.base(), "stage_ratio": st.stage_ratio(), "epochs_override": st.epochs,
                     "max_test_per_class": st.max_test_per_class, "retrain": st.retrain_settings()},
           "proxy": st.dataset == "digits-lt", "rows": res["rows"], "verdict": res["verdict"], "notes": res["notes"],
           **{k: v for k, v in res.items() if k.startswith("verdict_")},      # e.g. Table 9's 0-1 verdict
           "figures": res.get("figures", []), "runs": runs, "trained_runs": len(st.trained),
           "reused_runs": len(st.reused), "seconds": seconds,
           "environment": _environment()}
    out = Path(a.out) / f"table{n}"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(_jsonable(doc), indent=1))
    os.replace(tmp, out / "results.json")
    v = res["verdict"]
    proxy = " (digits proxy)" if st.dataset == "digits-lt" else ""
    print(f"\n== {TITLES[n]}{proxy}, {st.dataset} imbalance {st.imbalance:g}, seeds {len(st.seeds)} ==")
    print(res["table"])
    print(f"verdict: {v['verdict']}: {v['why']}")
    for note in res["notes"]:
        print(f"  note: {note}")
    for f in res.get("figures", []):
        print(f"  figure: {f}")
    print(f"  {len(st.trained)} runs trained, {len(st.reused)} reused, {seconds:.1f} s -> {out / 'results.json'}",
          flush=True)
    return doc


def _environment() -> dict:
    """Versions and the CPU's kernels: trained numbers are bitwise only within one kind (docs/trainer.md)."""
    import torch

    from ltbound.train.loop.environment import cpu_environment
    return {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            **cpu_environment()}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    check_args(parser, a)
    import torch
    threads = a.threads if a.threads is not None else (1 if a.dataset == "digits-lt" else None)
    if threads is not None:
        torch.set_num_threads(threads)
    if a.dataset != "digits-lt" and a.device != "cpu" and not torch.cuda.is_available():
        print(f"warning: {a.dataset} without a GPU takes hours per run at the paper's recipe; use --epochs and a "
              "small --data-dir subset for a dry run", file=sys.stderr)
    for n in (STUDIES if a.table == "all" else (a.table,)):
        run_study(n, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
