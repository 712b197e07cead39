"""`seal validate`: re-open every file of a pack and list each platform rule it breaks."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "validate"
HELP = "check a pack folder against a platform's rules"
DESCRIPTION = """Check a pack folder against one platform's rules.

Prints one line per violation. Exit status: 0 clean, 1 violations found,
2 bad input (missing folder, unknown platform)."""

PLATFORM_CHOICES = ("telegram", "whatsapp", "signal", "line", "discord", "imessage", "png", "webp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pack_dir", metavar="PACK_DIR", type=Path, help="pack folder written by `seal export`")
    parser.add_argument("--platform", required=True, choices=PLATFORM_CHOICES, help="platform whose rules apply")


def run(args: argparse.Namespace) -> int:
    from ...export import validate_pack

    violations = validate_pack(args.pack_dir, args.platform)
    for line in violations:
        print(line)
    if not violations:
        print(f"{args.pack_dir}: clean {args.platform} pack")
        return 0
    return 1
