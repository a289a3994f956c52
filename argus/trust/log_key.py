"""`argus log-key`: create the transparency log's checkpoint signing key (a C2SP note key).

Writes the private key (`PRIVATE+KEY+<name>+<hash>+<key>`, mode 0600) to the file the processor
reads (ARGUS_LOG_KEY) and prints the verifier key (`<name>+<hash>+<key>`) that auditors pass to
`argus verify --log-key` and that Go's golang.org/x/mod/sumdb/note accepts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from argus_spec.note import Signer


def write_signer_key(command: str, args: argparse.Namespace, generate: Callable[[str], Any]) -> int:
    """Write a new note signer key (mode 0600) to `args.out` and print its verifier key: the one way
    both the log's key (`argus log-key`) and a witness's (`argus witness-key`) are made."""
    if os.path.exists(args.out) and not args.force:
        print(f"argus {command}: {args.out} exists (use --force to replace it)", file=sys.stderr)
        return 2
    signer = generate(args.name)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.encode() + "\n")
    print(signer.verifier.encode())
    return 0


def run(args: argparse.Namespace) -> int:
    return write_signer_key("log-key", args, Signer.generate)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("log-key", help="create the checkpoint signing key", description=__doc__)
    parser.add_argument("--name", required=True, help="key name, e.g. the log name (ARGUS_LOG_NAME)")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the private key")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.set_defaults(func=run)
