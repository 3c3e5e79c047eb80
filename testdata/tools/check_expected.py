#!/usr/bin/env python3
# SPDX-License-Identifier: (MIT OR Apache-2.0)
"""Cross-checks the hand-written testdata/bpf/expected/<family>.json against libbpf.

Test infrastructure only. For each family and each compiler's object it runs `corelog`
(testdata/tools/corelog.c, libbpf 1.1) to relocate X.bpf.o against X.target.bpf.o, parses
libbpf's CO-RE log and checks that every record the object carries matches a JSON entry
(kind, local type, access, local and expected value, mem_sz) and every JSON entry is present.
Then it runs the program with BPF_PROG_TEST_RUN (ctx_in from the JSON) and checks retval and
the `out` global, and checks the JSON's ctx_in against the target object's `corebpf_input`.

  check_expected.py [--write-logs] [FAMILY...]     (root; needs cc, libbpf-dev, llvm-nm/objcopy)

--write-logs rewrites expected/<family>.libbpf.log (clang 19) and .clang14.libbpf.log.
"""
import json, os, re, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TD = os.path.join(ROOT, "testdata")
EXP = os.path.join(TD, "bpf/expected")
OUT = os.path.join(TD, "bpf/out")
COMPILERS = {"clang14": 14, "clang19": 19}
CORELOG = os.path.join(ROOT, "target/corelog")


def build_corelog():
    src = os.path.join(TD, "tools/corelog.c")
    if not os.path.exists(CORELOG) or os.path.getmtime(CORELOG) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(CORELOG), exist_ok=True)
        subprocess.check_call(["cc", "-O2", "-Wall", "-Wno-comment", "-o", CORELOG, src, "-lbpf"])


def corelog(obj, target, run=None):
    args = [CORELOG, obj, target] + (["--run"] + run if run else [])
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


SPEC = re.compile(r"^libbpf: prog '([^']+)': relo #(\d+): <(\w+)> \[\d+\] (.*)$")
PATCH = re.compile(r"patched insn #\d+ \(([A-Z0-9/]+)\) (off|imm|imm64|mem_sz) (\d+|-\d+) -> (\d+|-\d+)$")


def parse_type_and_access(kind, spec):
    """'struct a.b (0:1 @ offset 4)' -> ('struct a', '0:1'); enum 'enum e::X = 1' -> ('enum e', 'X')."""
    m = re.match(r"^(struct|union|enum64|enum|typedef|int|fwd|func_proto|array|ptr) (\S+?)(::| |\.|\[|$)", spec)
    if not m:
        raise ValueError(spec)
    kname, name = m.group(1), m.group(2)
    tname = kname if kname == "int" else f"{kname} {name}"
    if kind.startswith("enumval"):
        return tname, spec.split("::")[1].split(" = ")[0]
    a = re.search(r"\(([0-9:]+) @ offset", spec)
    return tname, (a.group(1) if a else "0")


def parse_log(text):
    recs, cur = [], None
    for line in text.splitlines():
        m = SPEC.match(line)
        if m:
            prog, n, kind, spec = m.groups()
            if cur is None or cur["n"] != int(n) or cur["prog"] != prog:
                t, acc = parse_type_and_access(kind, spec)
                cur = {"prog": prog, "n": int(n), "kind": kind, "type": t, "access": acc}
                recs.append(cur)
            continue
        if cur is None or f"relo #{cur['n']}:" not in line:
            continue
        p = PATCH.search(line)
        if p:
            cls, what, old, new = p.groups()
            if what == "mem_sz":
                cur["mem_sz"] = [int(old), int(new)]
            else:
                cur["local"], cur["value"] = int(old), int(new)
        elif "w/ invalid insn" in line:
            cur["value"] = "poison"
    return recs


def norm(v):
    # libbpf prints imm64 as unsigned; JSON gives signed numbers where C would.
    return v & 0xFFFFFFFFFFFFFFFF if isinstance(v, int) else v


def type_id(objpath, name):
    """Id of a named type in an object's .BTF, from bpftool's raw dump (compiler output)."""
    kind, tname = name.split(" ", 1) if " " in name else ("int", name)
    out = subprocess.check_output(["bpftool", "btf", "dump", "file", objpath], text=True)
    for line in out.splitlines():
        m = re.match(r"^\[(\d+)\] (\w+) '([^']*)'", line)
        if m and m.group(2).lower() == kind.replace("typedef", "typedef") and m.group(3) == tname:
            return int(m.group(1))
    raise KeyError(f"{name} not in {objpath}")


def expected_value(e, obj, target):
    v = e["expected"]
    if isinstance(v, dict):
        if "local_type" in v:
            return type_id(obj, v["local_type"])
        return type_id(target, v["target_type"])
    return norm(v)


def sym(objpath, name):
    """(section, offset, size) of a symbol, via llvm-nm."""
    out = subprocess.check_output(["llvm-nm", "-S", objpath], text=True)
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[3] == name:
            return int(f[0], 16), int(f[1], 16)
    raise KeyError(name)


def section_bytes(objpath, sec):
    with tempfile.NamedTemporaryFile() as t:
        subprocess.check_call(["llvm-objcopy", "-O", "binary", f"--only-section={sec}", objpath, t.name])
        return open(t.name, "rb").read()


def check_family(path, write_logs):
    spec = json.load(open(path))
    fam = spec["family"]
    errors = []
    for cc, major in COMPILERS.items():
        obj = os.path.join(OUT, cc, f"core_{fam}.bpf.o")
        tgt = os.path.join(OUT, cc, f"core_{fam}.target.bpf.o")
        rc, log, err = corelog(obj, tgt)
        golden = "\n".join(l for l in log.splitlines() if not l.startswith("libbpf: sec '.rel")) + "\n"
        if write_logs:
            name = f"core_{fam}.libbpf.log" if cc == "clang19" else f"core_{fam}.{cc}.libbpf.log"
            open(os.path.join(EXP, name), "w").write(golden)
        recs = parse_log(log)
        want = [e for e in spec["relocations"] if e.get("min_clang", 14) <= major]
        used = set()
        for r in recs:
            hit = None
            for i, e in enumerate(want):
                key = e.get("enumerator", e["access"])
                if (e["kind"], e["type"], key) == (r["kind"], r["type"], r["access"]) and \
                        e.get("prog", spec["program"]) == r["prog"]:
                    hit = i
                    break
            if hit is None:
                errors.append(f"{cc}: log record not in JSON: {r}")
                continue
            used.add(hit)
            e = want[hit]
            exp = expected_value(e, obj, tgt)
            if r.get("value") != exp:
                errors.append(f"{cc}: {r['prog']} relo #{r['n']} {r['kind']} {r['type']} {r['access']}: libbpf {r.get('value')} != JSON {exp}")
            loc = e.get("local")
            if isinstance(loc, dict):
                loc = expected_value({"expected": loc}, obj, tgt)
            if loc is not None and "local" in r and norm(loc) != r["local"]:
                errors.append(f"{cc}: relo #{r['n']}: local {r['local']} != JSON {e['local']}")
            if e.get("mem_sz") != r.get("mem_sz"):
                errors.append(f"{cc}: relo #{r['n']}: mem_sz {r.get('mem_sz')} != JSON {e.get('mem_sz')}")
        for i, e in enumerate(want):
            if i not in used:
                errors.append(f"{cc}: JSON entry never emitted: {e}")
        if len(recs) != spec.get("count", {}).get(cc, len(recs)):
            errors.append(f"{cc}: {len(recs)} records, JSON count says {spec['count'][cc]}")

        run = spec.get("run")
        if run and major >= spec.get("min_clang", 14):
            ctx = bytes.fromhex(run["ctx_in"])
            if run.get("input_symbol"):
                off, size = sym(tgt, "corebpf_input")
                data = section_bytes(tgt, ".data")[off:off + size]
                if ctx[:size] != data or any(ctx[size:]):
                    errors.append(f"{cc}: ctx_in differs from the target's corebpf_input {data.hex()}")
            with tempfile.NamedTemporaryFile() as t:
                t.write(ctx)
                t.flush()
                rc, so, se = corelog(obj, tgt, [spec["program"], t.name])
            m = re.search(r"^retval (-?\d+)$", so, re.M)
            b = re.search(r"^bss ([0-9a-f]+)$", so, re.M)
            if rc != 0 or not m or not b:
                errors.append(f"{cc}: run failed (rc {rc}): {se.strip()[-300:]}")
                continue
            if int(m.group(1)) != run["retval"]:
                errors.append(f"{cc}: retval {m.group(1)} != {run['retval']}")
            bss = bytes.fromhex(b.group(1))
            off, _ = sym(obj, "out")
            for i, item in enumerate(run["out"]):
                name, val = item[0], item[1]
                got = struct.unpack_from("<Q", bss, off + 8 * i)[0]
                if len(item) > 2 and major < item[2]:
                    continue  # this output needs a newer compiler (stays 0)
                if isinstance(val, dict):
                    val = expected_value({"expected": val}, obj, tgt)
                if got != norm(val):
                    errors.append(f"{cc}: out.{name} = {got:#x} != JSON {norm(val):#x}")
    return errors


def main():
    args = sys.argv[1:]
    write_logs = "--write-logs" in args
    fams = [a for a in args if not a.startswith("--")]
    build_corelog()
    bad = 0
    for f in sorted(os.listdir(EXP)):
        if not f.endswith(".json") or (fams and f[:-5] not in fams):
            continue
        spec = json.load(open(os.path.join(EXP, f)))
        if spec.get("kind", "core") != "core":
            continue
        errs = check_family(os.path.join(EXP, f), write_logs)
        print(f"{f}: {'ok' if not errs else 'FAIL'}")
        for e in errs:
            print("  " + e)
        bad += bool(errs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
