#!/bin/bash
# The committed minimised corpora, fuzz/corpus-min/<target>.tar.xz.
#
#   fuzz/corpus-min.sh unpack [TARGET...]   corpus-min/T.tar.xz -> corpus/T/ (adds files)
#   fuzz/corpus-min.sh pack [TARGET...]     corpus/T/ -> corpus-min/T.tar.xz
#
# pack keeps the inputs of corpus/T up to MAX_KB (default 32) KiB that libFuzzer's
# set-cover merge needs to reach every feature the whole of them reach, with the target
# built as `cargo +nightly fuzz build -O -a -s none` (CARGO_TARGET_DIR is honoured).
# The tarballs are deterministic (sorted names, no owners or times), so an unchanged
# corpus packs to the same bytes. No TARGET: every target in Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")"
cmd=${1:-}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^corebpf-fuzz$')
fi
case "$cmd" in
unpack)
    mkdir -p corpus
    for t in "${targets[@]}"; do
        tar -xJf "corpus-min/$t.tar.xz" -C corpus
        echo "$t: $(ls "corpus/$t" | wc -l) inputs in corpus/$t"
    done
    ;;
pack)
    bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p corpus-min
    for t in "${targets[@]}"; do
        mkdir -p "$tmp/in/$t" "$tmp/out/$t"
        find "corpus/$t" -type f -size -"$((${MAX_KB:-32} + 1))"k -exec cp {} "$tmp/in/$t/" \;
        "$bin/$t" -set_cover_merge=1 -timeout=60 -rss_limit_mb=4096 \
            "$tmp/out/$t" "$tmp/in/$t" >"$tmp/$t.log" 2>&1
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
            -C "$tmp/out" -cf - "$t" | xz -9 >"corpus-min/$t.tar.xz"
        echo "$t: $(ls "$tmp/out/$t" | wc -l) of $(ls "$tmp/in/$t" | wc -l) inputs," \
            "$(du -k "corpus-min/$t.tar.xz" | cut -f1) KiB packed"
    done
    ;;
*)
    echo "usage: $0 pack|unpack [TARGET...]" >&2
    exit 2
    ;;
esac
