"""The ``mewb`` command. Every verb parses its arguments and makes one call into the library.

Each verb is a ``_verb_<name>(subparsers)`` function that adds its parser and sets ``func``;
``VERBS`` lists them in ``mewb --help`` order. Heavy imports happen inside the handlers so that
``mewb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys


def _verb_doctor(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the installation: versions, device, OpenCV, browser, kernel")

    def run(args: argparse.Namespace) -> int:
        from mewb.doctor import print_report, run_checks

        checks = run_checks()
        print_report(checks)
        return 0 if all(c.ok for c in checks) else 1

    p.set_defaults(func=run)


def _verb_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the registered models with parameters and FLOPs")
    p.add_argument("--frames", type=int, default=16, help="clip length T for the FLOP count")
    p.add_argument("--size", type=int, default=112, help="clip height and width for the FLOP count")

    def run(args: argparse.Namespace) -> int:
        from mewb.models.complexity import complexity_table, format_complexity_table

        print(format_complexity_table(complexity_table(frames=args.frames, size=args.size)))
        return 0

    p.set_defaults(func=run)


def _verb_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="show or clear the preprocessing cache (cropped frames, EVM, flow)")
    p.add_argument("action", choices=["info", "clear"], help="info: entries and size; clear: delete entries")
    p.add_argument("--root", default=None, help="cache folder (default: $MEWB_CACHE or ~/.cache/mewb)")

    def run(args: argparse.Namespace) -> int:
        from mewb.data.cache import PreprocessCache, format_info

        cache = PreprocessCache(args.root)
        if args.action == "clear":
            print(f"{cache.root}: removed {cache.clear()} entries")
        else:
            print(format_info(cache.info()))
        return 0

    p.set_defaults(func=run)


VERBS = [_verb_doctor, _verb_models, _verb_cache]


def build_parser() -> argparse.ArgumentParser:
    from mewb import __version__

    parser = argparse.ArgumentParser(
        prog="mewb",
        description="mewb: the micro-expression workbench (IM3DR-MFER, LOSO evaluation, saliency).",
    )
    parser.add_argument("--version", action="version", version=f"mewb {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for add_verb in VERBS:
        add_verb(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        # Bad input: one clear line naming the file and the problem, no traceback.
        print(f"mewb {args.verb}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
