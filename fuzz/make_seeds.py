#!/usr/bin/env python3
"""Regenerates fuzz/seeds/ from the committed test objects.

seeds/btf/<obj>.btf        the object's .BTF section (btf_parse, btf_dump_c)
seeds/btf/layout_*.btf     some of those with a layout section (a 32-byte header, as
                           pahole 1.31+ writes), one with types of kinds corebpf does
                           not know that only the layout sizes
seeds/btf_ext/<obj>.bin    u16 LE length of .BTF, .BTF, then .BTF.ext (btf_ext_parse)
seeds/obj/<obj>.bpf.o      the whole object, for objects under 24 KiB (obj_parse)

Needs llvm-objcopy (Debian: llvm). Run from anywhere: python3 fuzz/make_seeds.py
"""
import glob
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OBJS = os.path.join(HERE, "..", "testdata", "bpf", "out", "clang19", "*.bpf.o")


def dump_section(obj, name, tmp):
    out = os.path.join(tmp, name.strip("."))
    if os.path.exists(out):
        os.remove(out)
    r = subprocess.run(
        ["llvm-objcopy", "--dump-section", f"{name}={out}", obj, os.path.join(tmp, "scratch.o")],
        capture_output=True,
    )
    if r.returncode != 0 or not os.path.exists(out):
        return None
    with open(out, "rb") as f:
        return f.read()


# (info_sz, elem_sz) of kinds 0..19, as include/uapi/linux/btf.h's records are sized.
KNOWN_LAYOUT = [(0, 0), (4, 0), (0, 0), (12, 0), (0, 12), (0, 12), (0, 8), (0, 0), (0, 0),
                (0, 0), (0, 0), (0, 0), (0, 0), (0, 8), (4, 0), (0, 12), (0, 0), (4, 0),
                (0, 0), (0, 12)]


def with_layout(btf, layout, extra_types=b""):
    """Little-endian 24-byte-header BTF re-emitted with a 32-byte header and a layout
    section between the types (plus extra_types) and the strings."""
    magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack(
        "<HBBIIIII", btf[:24])
    assert magic == 0xEB9F and hdr_len == 24
    types = btf[24 + type_off:24 + type_off + type_len] + extra_types
    strs = btf[24 + str_off:24 + str_off + str_len]
    lay = b"".join(struct.pack("<BBH", i, e, 0) for i, e in layout)
    hdr = struct.pack("<HBBIIIIIII", magic, version, flags, 32, 0, len(types),
                      len(types) + len(lay), len(strs), len(types), len(lay))
    return hdr + types + lay + strs


def unknown_kinds(btf):
    """Types of kinds 25 (vlen 2, a 4-byte info, 8-byte elements) and 100, and a pointer
    to the first, appended to btf's types; the layout sizes them."""
    type_len = struct.unpack("<I", btf[12:16])[0]
    first = 1 + count_types(btf[24:24 + type_len])
    extra = struct.pack("<III", 0, 25 << 24 | 2, 7) + struct.pack("<5I", 1, 0, 1, 0, 1)
    extra += struct.pack("<III", 0, 100 << 24 | 1, 0) + struct.pack("<I", 1)
    extra += struct.pack("<III", 0, 2 << 24, first)
    layout = KNOWN_LAYOUT + [(0, 0)] * 81
    layout[25] = (4, 8)
    layout[100] = (0, 4)
    return with_layout(btf, layout, extra)


def count_types(types):
    n, off = 0, 0
    while off < len(types):
        info = struct.unpack("<I", types[off + 4:off + 8])[0]
        info_sz, elem_sz = KNOWN_LAYOUT[(info >> 24) & 0x7F]
        off += 12 + info_sz + elem_sz * (info & 0xFFFFFF)
        n += 1
    return n


def layout_seeds(btf_dir):
    """A few of the smallest seeds again with a layout section, and one with unknown kinds."""
    names = sorted(os.listdir(btf_dir), key=lambda n: os.path.getsize(os.path.join(btf_dir, n)))
    for name in names[:4]:
        with open(os.path.join(btf_dir, name), "rb") as f:
            btf = f.read()
        with open(os.path.join(btf_dir, "layout_" + name), "wb") as f:
            f.write(with_layout(btf, KNOWN_LAYOUT))
    with open(os.path.join(btf_dir, names[0]), "rb") as f:
        btf = f.read()
    with open(os.path.join(btf_dir, "layout_unknown_kinds.btf"), "wb") as f:
        f.write(unknown_kinds(btf))
    return len(names[:4]) + 1


def main():
    btf_dir = os.path.join(HERE, "seeds", "btf")
    ext_dir = os.path.join(HERE, "seeds", "btf_ext")
    for d in (btf_dir, ext_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    seen = set()
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for obj in sorted(glob.glob(OBJS)):
            name = os.path.basename(obj)[: -len(".bpf.o")]
            btf = dump_section(obj, ".BTF", tmp)
            if btf is None or btf in seen:
                continue
            seen.add(btf)
            with open(os.path.join(btf_dir, name + ".btf"), "wb") as f:
                f.write(btf)
            ext = dump_section(obj, ".BTF.ext", tmp)
            if ext is not None and len(btf) < 65536:
                with open(os.path.join(ext_dir, name + ".bin"), "wb") as f:
                    f.write(struct.pack("<H", len(btf)) + btf + ext)
            n += 1
    n += layout_seeds(btf_dir)
    obj_dir = os.path.join(HERE, "seeds", "obj")
    shutil.rmtree(obj_dir, ignore_errors=True)
    os.makedirs(obj_dir)
    objs = [o for o in sorted(glob.glob(OBJS)) if os.path.getsize(o) < 24 * 1024]
    for obj in objs:
        shutil.copy(obj, obj_dir)
    print(f"{n} seeds in {btf_dir} and {ext_dir}, {len(objs)} in {obj_dir}")


if __name__ == "__main__":
    main()
