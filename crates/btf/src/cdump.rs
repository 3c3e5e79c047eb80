//! C header dump (`vmlinux.h`): work in progress.
