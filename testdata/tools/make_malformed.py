#!/usr/bin/env python3
# SPDX-License-Identifier: (MIT OR Apache-2.0)
"""Derives subtly broken ELF objects from good clang 19 objects, for parser error tests.

Test infrastructure only. Reads testdata/bpf/out/clang19/*.bpf.o, writes
testdata/bpf/out/malformed/*.bpf.o (committed); each output is described in
testdata/bpf/out/malformed/README.md. Deterministic: rerun after `cargo xtask build-bpf`.
"""
import os, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "bpf/out/clang19")
DST = os.path.join(ROOT, "bpf/out/malformed")


class Elf:
    def __init__(self, data):
        self.d = bytearray(data)
        (self.shoff,) = struct.unpack_from("<Q", self.d, 0x28)
        self.shentsize, self.shnum, self.shstrndx = struct.unpack_from("<HHH", self.d, 0x3A)
        self.secs = [self.sh(i) for i in range(self.shnum)]
        strtab = self.secs[self.shstrndx]
        for s in self.secs:
            end = self.d.index(b"\0", strtab["offset"] + s["name_off"])
            s["name"] = self.d[strtab["offset"] + s["name_off"]:end].decode()

    def sh(self, i):
        off = self.shoff + i * self.shentsize
        name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", self.d, off)
        return dict(idx=i, hdr=off, name_off=name, type=typ, offset=offset, size=size, link=link, info=info, entsize=entsize)

    def sec(self, name):
        return next(s for s in self.secs if s["name"] == name)

    def set_size(self, s, size):
        struct.pack_into("<Q", self.d, s["hdr"] + 0x20, size)


def load(name):
    return Elf(open(os.path.join(SRC, name), "rb").read())


def save(name, elf):
    open(os.path.join(DST, name), "wb").write(bytes(elf.d))


def truncated_section():
    # The `syscall` section claims to extend 4 KiB past the end of the file.
    e = load("obj_globals.bpf.o")
    s = e.sec("syscall")
    e.set_size(s, len(e.d) - s["offset"] + 4096)
    save("truncated_section.bpf.o", e)


def call_mid_function():
    # A bpf-to-bpf call (BPF_PSEUDO_CALL) whose target is moved one instruction into level1.
    e = load("obj_subprogs.bpf.o")
    s = e.sec("syscall")
    for off in range(s["offset"], s["offset"] + s["size"], 8):
        code, regs = e.d[off], e.d[off + 1]
        if code == 0x85 and (regs >> 4) == 1:  # call, src_reg = BPF_PSEUDO_CALL
            (imm,) = struct.unpack_from("<i", e.d, off + 4)
            struct.pack_into("<i", e.d, off + 4, imm + 1)
            break
    else:
        raise SystemExit("no pseudo call found")
    save("call_mid_function.bpf.o", e)


def reloc_missing_symbol():
    # The first relocation of `.relsyscall` points at a symbol index past the symbol table.
    e = load("obj_globals.bpf.o")
    r = e.sec(".relsyscall")
    symtab = e.secs[r["link"]]
    nsyms = symtab["size"] // 24
    (info,) = struct.unpack_from("<Q", e.d, r["offset"] + 8)
    struct.pack_into("<Q", e.d, r["offset"] + 8, ((nsyms + 5) << 32) | (info & 0xFFFFFFFF))
    save("reloc_missing_symbol.bpf.o", e)


def btf_bad_magic():
    # .BTF starts with 0xeb9f; flip it so BTF parsing fails while the ELF stays valid.
    e = load("obj_globals.bpf.o")
    s = e.sec(".BTF")
    struct.pack_into("<H", e.d, s["offset"], 0x9FEB)
    save("btf_bad_magic.bpf.o", e)


def btf_ext_truncated():
    # .BTF.ext header says its func_info subsection is longer than the section.
    e = load("obj_subprogs.bpf.o")
    s = e.sec(".BTF.ext")
    # btf_ext_header: magic u16, version u8, flags u8, hdr_len u32, func_info_off u32, func_info_len u32
    struct.pack_into("<I", e.d, s["offset"] + 12, s["size"] * 2)
    save("btf_ext_truncated.bpf.o", e)


if __name__ == "__main__":
    os.makedirs(DST, exist_ok=True)
    for f in (truncated_section, call_mid_function, reloc_missing_symbol, btf_bad_magic, btf_ext_truncated):
        f()
    print("written to", DST)
