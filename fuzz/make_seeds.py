#!/usr/bin/env python3
"""Regenerates fuzz/seeds/ from the committed test objects.

seeds/btf/<obj>.btf        the object's .BTF section (btf_parse, btf_dump_c)
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
    obj_dir = os.path.join(HERE, "seeds", "obj")
    shutil.rmtree(obj_dir, ignore_errors=True)
    os.makedirs(obj_dir)
    objs = [o for o in sorted(glob.glob(OBJS)) if os.path.getsize(o) < 24 * 1024]
    for obj in objs:
        shutil.copy(obj, obj_dir)
    print(f"{n} seeds in {btf_dir} and {ext_dir}, {len(objs)} in {obj_dir}")


if __name__ == "__main__":
    main()
