"""What a cubin holds, read with the cuobjdump that Triton's wheel ships (no GPU, no CUDA toolkit).

`read_cubin(cubin)` -> `Report`: registers and local memory (`cuobjdump -res-usage`), and from the
SASS (`cuobjdump -sass`): spill instructions (STL / LDL), the MMA kind (HGMMA: Hopper wgmma;
HMMA: mma.sync; neither: no tensor-core dot), global loads by kind (UTMALDG: TMA; LDGSTS:
cp.async; LDG by width in bits), and every loop (a backward branch and the instructions from its
target up to it), with the same counts inside it.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field

_INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P[0-9T]\s+)?([A-Z][A-Z0-9_.]*)\s*([^;]*);")
_BRANCH_TARGET = re.compile(r"0x([0-9a-f]+)")
_RESOURCES = re.compile(r"REG:(\d+)\s+STACK:(\d+)\s+SHARED:(\d+)\s+LOCAL:(\d+)")
_LDG_WIDTH = {"U8": 8, "S8": 8, "U16": 16, "S16": 16, "64": 64, "128": 128}


@dataclass(frozen=True)
class Loop:
    start: int  # byte addresses in the SASS
    end: int
    instructions: int
    mma: int
    loads: dict


@dataclass(frozen=True)
class Report:
    registers: int
    stack: int
    local: int
    spill_instructions: int
    instructions: int
    mma_kind: str
    loads: dict
    loops: tuple[Loop, ...] = field(default_factory=tuple)


def cuobjdump() -> str:
    """The cuobjdump of Triton's nvidia backend."""
    import triton.backends.nvidia as nvidia

    path = os.path.join(os.path.dirname(nvidia.__file__), "bin", "cuobjdump")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no cuobjdump at {path}: attncc inspect needs Triton's nvidia backend (pip install triton)")
    return path


def load_kind(opcode: str) -> str | None:
    """'tma', 'cp.async', 'ldg.<bits>' for a global load's opcode, else None."""
    if opcode.startswith("UTMALDG"):
        return "tma"
    if opcode.startswith("LDGSTS"):
        return "cp.async"
    parts = opcode.split(".")
    if parts[0] == "LDG":  # not LDGSTS (above) nor LDGDEPBAR (cp.async's commit, no load)
        bits = next((_LDG_WIDTH[p] for p in parts[1:] if p in _LDG_WIDTH), 32)
        return f"ldg.{bits}"
    return None


def mma_kind(opcodes) -> str:
    names = set(op.split(".")[0] for op in opcodes)
    if "HGMMA" in names:
        return "wgmma"
    if "HMMA" in names:
        return "mma.sync"
    return "none"


def parse_sass(text: str) -> list[tuple[int, str, str]]:
    """(address, opcode, operands) of every instruction, in order."""
    return [(int(m.group(1), 16), m.group(2), m.group(3)) for m in _INSTRUCTION.finditer(text)]


def _counts(instructions) -> tuple[int, dict]:
    mma = sum(1 for _, op, _ in instructions if op.split(".")[0] in ("HGMMA", "HMMA"))
    loads = Counter(kind for _, op, _ in instructions if (kind := load_kind(op)))
    return mma, dict(sorted(loads.items()))


def loops_of(instructions) -> tuple[Loop, ...]:
    """Every backward branch as a loop: its target's address up to the branch (a branch to
    itself, the trap after EXIT, is no loop)."""
    found = []
    for index, (address, op, operands) in enumerate(instructions):
        if op.split(".")[0] != "BRA":
            continue
        target = _BRANCH_TARGET.search(operands)
        if not target or int(target.group(1), 16) >= address:
            continue
        start = int(target.group(1), 16)
        body = [ins for ins in instructions[:index + 1] if ins[0] >= start]
        mma, loads = _counts(body)
        found.append(Loop(start, address, len(body), mma, loads))
    return tuple(sorted(found, key=lambda loop: loop.start))


def read_cubin(cubin: bytes) -> Report:
    with tempfile.TemporaryDirectory(prefix="attncc-inspect-") as folder:
        path = os.path.join(folder, "kernel.cubin")
        with open(path, "wb") as handle:
            handle.write(cubin)
        usage = subprocess.run([cuobjdump(), "-res-usage", path], capture_output=True, text=True, check=True).stdout
        sass = subprocess.run([cuobjdump(), "-sass", path], capture_output=True, text=True, check=True).stdout
    match = _RESOURCES.search(usage)
    if not match:
        raise RuntimeError(f"cuobjdump -res-usage gave no resource line:\n{usage}")
    registers, stack, _, local = (int(x) for x in match.groups())
    instructions = parse_sass(sass)
    mma, loads = _counts(instructions)
    spills = sum(1 for _, op, _ in instructions if op.split(".")[0] in ("STL", "LDL"))
    return Report(registers=registers, stack=stack, local=local, spill_instructions=spills,
                  instructions=len(instructions), mma_kind=mma_kind(op for _, op, _ in instructions),
                  loads=loads, loops=loops_of(instructions))
