"""``neurofusion kernel-check``: the fingerprint of this machine's CPU kernels (fingerprint.py).

Run it on two machines (a laptop and a cluster node, an AVX-512 and an AVX2-only CPU):
``--save`` on one, ``--against`` that file on the other. Equal fingerprints mean the steps'
numerical building blocks give the same bits on both, so the same inputs give the same
results there; a difference names the blocks that differ and exits with status 1.
"""

from __future__ import annotations

HELP = "Print a fingerprint of the bits this machine's CPU kernels give; compare it with another machine's."


def add_arguments(parser) -> None:
    parser.add_argument("--save", metavar="JSON", help="also write the fingerprint and this CPU's description here")
    parser.add_argument("--against", metavar="JSON",
                        help="a fingerprint --save wrote on another machine: exit 1 if any block differs")


def run(args) -> int:
    import json
    import os
    from pathlib import Path

    from ..errors import NeurofusionError
    from ..fingerprint import cpu_features, fingerprint
    from ..io import write_json
    from ..kernels import VARIABLE, is_x86
    from ..runtime import cpu_description

    reference = None
    if args.against:
        try:
            reference = json.loads(Path(args.against).read_text())["probes"]
            if not isinstance(reference, dict):
                raise TypeError("probes is not a table")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NeurofusionError(f"not a fingerprint file ({type(exc).__name__})", path=args.against,
                                   fix="write one with neurofusion kernel-check --save") from None
    digests = fingerprint()
    mode = os.environ.get(VARIABLE, "portable")
    if mode == "portable" and not is_x86():
        mode = "library defaults (not x86-64: the portable kernels name x86 instruction sets)"
    record = {"cpu": cpu_description(), "cpu_features": cpu_features(), "kernels": mode, "probes": digests}
    offers = " ".join(name for name, present in record["cpu_features"].items() if present) or "no AVX2"
    # the CPU as CPUID reports it to this process (an emulator's, under one), beside /proc/cpuinfo's name
    print(f"kernel-check: {record['cpu']}; CPUID offers {offers}; kernel mode {record['kernels']}")
    for name, digest in digests.items():
        print(f"  {name:28s} {digest[:16]}")
    if args.save:
        write_json(args.save, record)
    if reference is None:
        return 0
    differ = [name for name in digests if reference.get(name) != digests[name]]
    if not differ:
        print(f"kernel-check: the same bits as {args.against}")
        return 0
    print(f"kernel-check: DIFFERS from {args.against} in: {', '.join(n for n in differ if n != 'fingerprint')}")
    return 1
