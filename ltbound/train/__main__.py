"""Command line of the trainer: ``python -m ltbound.train`` (also installed as ``ltbound-train``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from ..records import LOCK_NAME

DESCRIPTION = """\
Train a model on a long-tailed data set with a class-sampling schedule (instance-balanced,
class-balanced, class-reversed, or the Switching algorithm of the paper: IB, then CR for
the last epochs) and write a run record: after every epoch the per-sample training loss
and correctness and the per-sample test correctness, plus the learning rate, the active
sampler and test accuracy overall, per class and per shot group. The bound estimation
(ltbound.estimate_bounds, ltbound.compare) reads these records.

Settings not given come from the preset (model, epochs, batch size, learning rate,
milestones, switch offset S): 'digits' for digits-lt, otherwise 'cifar', the paper's
CIFAR recipe (ResNet-32, 200 epochs, batch 64, lr 0.1 with 5 warm-up epochs, x0.1 after
epoch 100, S = 1: IB through epoch 101, CR from epoch 102)."""

EPILOG = """\
examples:
  # a one-minute CPU run on the embedded digits data (no download)
  python -m ltbound.train --dataset digits-lt --schedule switching --out runs/digits-switching

  # CIFAR-10-LT, imbalance 100, the paper's recipe, from the JPEG archive or torchvision folder
  python -m ltbound.train --dataset cifar10-lt --data-dir ../shared/data/cifar10-jpeg.tar.xz \\
      --imbalance 100 --schedule switching --out runs/c10-switching

  # the same with the instance-balanced sampler only, 2 GPUs
  torchrun --nproc_per_node 2 -m ltbound.train --dataset cifar10-lt --data-dir data \\
      --schedule ib --out runs/c10-ib

  # continue a run that was stopped: its settings come from its record
  python -m ltbound.train --out runs/c10-ib --resume

  # a run that must outlive this machine: a compact snapshot to commit, restored elsewhere
  python -m ltbound.train pack runs/c10-ib snapshots/c10-ib
  python -m ltbound.train restore snapshots/c10-ib runs/c10-ib --data-dir DATA && \
      python -m ltbound.train --out runs/c10-ib --resume

Exit status: 0 on success, 2 for invalid settings or data, a damaged record or a diverging run, 1 when
the record cannot be written (a full disk), 130 when interrupted; always one line on stderr."""


def build_parser() -> argparse.ArgumentParser:
    from ..schedule import DATASETS, PRESETS, SCHEDULES

    p = argparse.ArgumentParser(prog="python -m ltbound.train", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits-lt", metavar="NAME",
                   help=f"data set: {', '.join(DATASETS)} (default: digits-lt)")
    g.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder (torchvision CIFAR, or train/<class>/*.jpg + test/<class>/*.jpg) or a tar archive "
                        "of such a tree; not needed for digits-lt")
    g.add_argument("--imbalance", type=float, default=None, metavar="BETA",
                   help="n_max / n_min of the long-tailed training set, >= 1 (default: 20 for digits, 100 for CIFAR)")
    g.add_argument("--split-seed", type=int, default=0, metavar="INT", help="seed of the long-tailed subset (default 0)")
    g.add_argument("--max-test-per-class", type=int, default=None, metavar="K",
                   help="keep only K test images per class (quick runs)")
    g.add_argument("--download", action="store_true", help="download CIFAR into --data-dir when missing")

    g = p.add_argument_group("recipe")
    g.add_argument("--preset", default=None, metavar="NAME",
                   help=f"recipe: {', '.join(sorted(PRESETS))} (default: digits for digits-lt, else cifar)")
    g.add_argument("--schedule", default="switching", metavar="NAME",
                   help=f"sampler schedule: {', '.join(SCHEDULES)} (default: switching)")
    g.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    g.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    g.add_argument("--lr", type=float, default=None, help="override the preset's initial learning rate")
    g.add_argument("--milestones", default=None, metavar="LIST",
                   help="override the preset's learning-rate milestones, comma list of epochs (e.g. 100 or 60,80)")
    g.add_argument("--warmup-epochs", type=int, default=None, help="override the preset's linear warm-up epochs")
    g.add_argument("--switch-offset", type=int, default=None, metavar="S",
                   help="override S of Algorithm 1: the second sampler starts at epoch m_n + S + 1")
    g.add_argument("--model", default=None, help="override the preset's model (resnet32, digits_net, ...)")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, sampler and augmentation (default 0)")

    g = p.add_argument_group("run")
    g.add_argument("--out", required=True, metavar="DIR", help="run record folder to create (must be new or empty)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last complete epoch, with the settings stored in its "
                        "record (flags given as well must agree with them); a missing or empty --out is refused")
    g.add_argument("--fork-from", metavar="RUN", default=None,
                   help="start from RUN's record at its last epoch (same settings but schedule and checkpoints, "
                        "same sampler up to there): e.g. Switching branched off an IB run")
    g.add_argument("--checkpoint-epochs", default="switch,end", metavar="LIST",
                   help="epochs whose weights are saved: comma list of switch, end, all, none or numbers "
                        "(default: switch,end)")
    g.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default auto)")
    g.add_argument("--amp", default="auto", choices=("auto", "bf16", "off"),
                   help="bfloat16 autocast: auto = on for CUDA and for CPUs with native bf16 kernels "
                        "(AVX-512 BF16 / AMX), off = float32 (bitwise reproducible on CPU)")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--cuda-graphs", action="store_true", help="compile with CUDA graphs (reduce-overhead; CUDA only)")
    g.add_argument("--reference-pipeline", action="store_true",
                   help="use the slow DataLoader + PIL transforms pipeline (for comparison)")
    g.add_argument("--workers", type=int, default=2, help="DataLoader workers of --reference-pipeline (default 2)")
    g.add_argument("--eval-batch-size", type=int, default=None,
                   help="batch size of the per-epoch evaluation (default: 128 on CPU, 1024 on CUDA)")
    g.add_argument("--eval-precision", default=None, choices=("float32", "bf16"),
                   help="precision of the per-epoch per-sample evaluation: float32 (default for a new run; a "
                        "checkpoint re-evaluated later gives the recorded losses bitwise) or bf16 (autocast, about "
                        "2x faster on CPUs with native bf16 kernels; per-sample losses differ by a few percent, see "
                        "docs/benchmarks.md); recorded in the environment; --resume keeps the record's")
    g.add_argument("--no-progress", action="store_true", help="no progress bars (epoch summaries are still printed)")
    g.add_argument("--allow-env-change", action="store_true",
                   help="let --resume continue in another environment (threads, device, amp, torch version) than "
                        "the record's; the change is recorded in the manifest (the run is then not bitwise "
                        "equal to an uninterrupted one)")
    return p


#: TrainConfig arguments whose flag is not simply ``--`` + the name with '-' for '_'.
_FLAG_OF = {"fast": "--reference-pipeline", "progress": "--no-progress"}


def flags_for(message: str) -> str:
    """``message`` (which names TrainConfig arguments) with the command-line flag of each argument it names.

    The library speaks of arguments (``batch_size``, ``cuda_graphs``); this adds, on the same
    line, the flags they are set with here, e.g. ``(flags: cuda_graphs = --cuda-graphs)``.
    One-word arguments whose flag is ``--`` + the word (``out``, ``device``) need no note.
    """

    from .loop.config import TrainConfig

    # "pass resume=True" is the library's way to say a switch; here it is the flag itself
    switches = {f.name for f in dataclasses.fields(TrainConfig) if f.type in (bool, "bool") and f.name not in _FLAG_OF}
    message = re.sub(r"(?<![\w-])(\w+)=True\b",
                     lambda m: "--" + m.group(1).replace("_", "-") if m.group(1) in switches else m.group(0), message)
    notes = []
    for field in dataclasses.fields(TrainConfig):
        name = field.name
        flag = _FLAG_OF.get(name, "--" + name.replace("_", "-"))
        if flag == "--" + name or name == "quiet":      # obvious, or no flag at all
            continue
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message):
            notes.append(f"{name} = {flag}")
    return f"{message} (flags: {', '.join(notes)})" if notes else message


#: TrainConfig field of each option whose dest differs from the field's name (and how the value maps).
_FIELD_OF_DEST = {"reference_pipeline": ("fast", lambda v: not v), "no_progress": ("progress", lambda v: not v)}


def _config_kwargs(args: argparse.Namespace, milestones: list[int] | None) -> dict:
    """TrainConfig keyword arguments from parsed options."""
    return dict(
        out=args.out, dataset=args.dataset, data_dir=args.data_dir, imbalance=args.imbalance,
        max_test_per_class=args.max_test_per_class, preset=args.preset, schedule=args.schedule,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, milestones=milestones,
        warmup_epochs=args.warmup_epochs, switch_offset=args.switch_offset, model=args.model, seed=args.seed,
        split_seed=args.split_seed, device=args.device, checkpoint_epochs=args.checkpoint_epochs,
        fast=not args.reference_pipeline, amp=args.amp, compile=args.compile, cuda_graphs=args.cuda_graphs,
        eval_batch_size=args.eval_batch_size, eval_precision=args.eval_precision or "float32",
        workers=args.workers, progress=not args.no_progress,
        download=args.download, resume=args.resume, fork_from=args.fork_from,
        allow_env_change=args.allow_env_change)


def _given_options(argv: Sequence[str] | None) -> set[str]:
    """The dests of the options typed on the command line (not those left at their defaults)."""
    shadow = build_parser()
    for action in shadow._actions:              # noqa: SLF001 - argparse keeps its actions here
        action.default = argparse.SUPPRESS
    return set(vars(shadow.parse_args(argv)))


def _same(field: str, given: Any, recorded: Any) -> bool:
    if field == "data_dir" and given is not None and recorded is not None:
        return Path(given).expanduser().resolve() == Path(recorded).expanduser().resolve()
    if isinstance(given, (list, tuple)) or isinstance(recorded, (list, tuple)):
        return given is not None and recorded is not None and list(given) == list(recorded)
    if isinstance(given, float) or isinstance(recorded, float):
        return given is not None and recorded is not None and float(given) == float(recorded)
    return given == recorded


def _resume_kwargs(parser: argparse.ArgumentParser, kwargs: dict, given: set[str]) -> dict:
    """``--resume`` of an existing record: its settings come from the record's manifest.

    Options typed on the command line must agree with the record; those that do not are
    named (flag, value given, value recorded) and the command is refused, so a resume never
    silently trains something else than the record's run.
    """
    from .loop.config import OPERATIONAL, TrainConfig

    path = Path(kwargs["out"]) / "manifest.json"
    try:
        recorded = json.loads(path.read_text()).get("config") or {}
    except (OSError, json.JSONDecodeError) as exc:
        parser.error(f"--resume: cannot read {path} ({exc})")
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - set(OPERATIONAL)
    given_fields = {_FIELD_OF_DEST.get(d, (d, None))[0] for d in given}
    out, differ = dict(kwargs), []
    for name in sorted(fields & set(recorded)):
        if name in given_fields and not _same(name, kwargs[name], recorded[name]):
            dest = next((d for d, (f, _) in _FIELD_OF_DEST.items() if f == name), name)
            differ.append(f"--{dest.replace('_', '-')} {kwargs[name]!r} (recorded: {recorded[name]!r})")
        else:
            out[name] = recorded[name]
    if "eval_precision" not in given:
        # not in the record's config (it changes no training bits) but in its environment: a resume
        # continues in the recorded precision; a given --eval-precision that differs is refused by the
        # trainer's environment check (or, with --allow-env-change, recorded)
        env = json.loads(path.read_text()).get("environment") or {}
        out["eval_precision"] = env.get("eval_precision") or "float32"
    if differ:
        parser.error(f"--resume: {kwargs['out']} holds a run with other settings; these flags differ from its "
                     f"record: {'; '.join(differ)}. Drop them to continue the recorded run (--out and --resume "
                     "alone suffice), or choose a new --out for a new run")
    return out


def build_snapshot_parser(command: str) -> argparse.ArgumentParser:
    """``pack RUN SNAPSHOT`` / ``restore SNAPSHOT RUN``: a run carried to another machine (ltbound.train.runs.snapshot)."""
    if command == "pack":
        p = argparse.ArgumentParser(prog="python -m ltbound.train pack", description=(
            "Copy what continuing a run needs (manifest, split, resume state, every epoch's file; ~12 MB for "
            "ResNet-32) into a snapshot folder, verified, to commit or carry to another machine. The run may be "
            "training meanwhile. An existing snapshot of the same run at an earlier epoch is replaced."))
        p.add_argument("run", help="the run record folder (written by python -m ltbound.train --out RUN)")
        p.add_argument("snapshot", help="the snapshot folder to write (new, or an earlier snapshot of this run)")
        p.add_argument("--checkpoints", default="none", metavar="LIST",
                       help="checkpoints to carry: none (default), all, or a comma list of epochs; the others stay "
                            "hashed in the manifest (a fork source needs the checkpoints its fork keeps)")
        p.add_argument("--added-files", default="all", choices=("all", "none"),
                       help="files added to the record besides the training's (a certification's pacbayes/ "
                            "posteriors): all (default) carries them; none leaves them out, and a resumed "
                            "certification makes them again")
    else:
        p = argparse.ArgumentParser(prog="python -m ltbound.train restore", description=(
            "Verify a snapshot and lay its run out again, ready for `python -m ltbound.train --out RUN --resume`."))
        p.add_argument("snapshot", help="the snapshot folder (written by python -m ltbound.train pack)")
        p.add_argument("run", help="the run folder to create (new or empty)")
        p.add_argument("--data-dir", default=None, metavar="DIR",
                       help="where the run's data lie on this machine (the record stores the path it trained with); "
                            "the resume checks that they give the recorded split")
    return p


def snapshot_main(argv: Sequence[str]) -> int:
    """``pack`` and ``restore``; exit 0, or 2 with one line on stderr for a refused or damaged input."""
    from ..records import RecordError
    from .runs.snapshot import continue_command, pack_run, restore_snapshot

    command = argv[0]
    args = build_snapshot_parser(command).parse_args(argv[1:])
    try:
        if command == "pack":
            index = pack_run(args.run, args.snapshot, checkpoints=args.checkpoints, added_files=args.added_files)
            size = sum(f["size"] for f in index["files"].values())
            print(f"snapshot: {args.snapshot} ({index['run']}, epoch {index['epochs_completed']} of "
                  f"{index['epochs_planned']}, {size / 1e6:.1f} MB, {len(index['checkpoints_left'])} checkpoints "
                  "left behind)")
        else:
            out = restore_snapshot(args.snapshot, args.run, data_dir=args.data_dir)
            print(f"run restored: {out}; continue with: {continue_command(out)}")
    except (ValueError, RecordError) as exc:
        print(f"ltbound.train {command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ltbound.train {command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), train, print the record folder; return the exit code.

    ``--out RUN --resume`` alone continues RUN with the settings stored in its manifest;
    ``pack`` and ``restore`` (first word) carry a run to another machine.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("pack", "restore"):
        return snapshot_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    from .loop.config import TrainConfig
    from .loop.trainer import train

    milestones = None
    if args.milestones is not None:
        try:
            milestones = [int(m) for m in args.milestones.split(",") if m.strip()]
        except ValueError:
            parser.error(f"--milestones must be a comma list of epochs, got {args.milestones!r}")
    kwargs = _config_kwargs(args, milestones)
    if args.resume:
        out = Path(args.out)
        if not out.exists() or (out.is_dir() and not any(p.name != LOCK_NAME for p in out.iterdir())):
            parser.error(f"--resume: {args.out} holds no run to continue ({'no such folder' if not out.exists() else 'the folder is empty'}); "
                         "check the path, or drop --resume to start a new run there")
        if (out / "manifest.json").is_file():
            kwargs = _resume_kwargs(parser, kwargs, _given_options(argv))
    if kwargs["dataset"] == "digits-lt" and kwargs["data_dir"] is not None:
        # digits-lt is embedded: a --data-dir would be silently ignored (and recorded as if it were used)
        parser.error(f"--data-dir {kwargs['data_dir']} would be ignored: --dataset digits-lt is embedded (no files "
                     "to read); drop --data-dir, or choose a --dataset that reads it")
    config = TrainConfig(**kwargs)
    try:
        out = train(config)
    except ValueError as exc:   # includes DataError and RecordError: bad input, not a bug
        print(f"ltbound.train: error: {flags_for(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:      # a full disk, a vanished folder: the record keeps every completed epoch
        what = f"cannot write {exc.filename} ({exc.strerror})" if exc.strerror and exc.filename else str(exc)
        print(f"ltbound.train: error: {what}; the record keeps every completed epoch: free disk space (or fix the "
              "folder), then continue with --resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ltbound.train: interrupted; the record keeps every completed epoch (continue with --resume)",
              file=sys.stderr)
        return 130
    print(f"run record: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
