#!/usr/bin/env python3
"""Marks a shared library's need for a symbol version (e.g. GLIBC_2.36) as weak, in place.

The dynamic loader refuses a library whose version needs (.gnu.version_r) name a version the
C library lacks, unless the need carries VER_FLG_WEAK (ELF gABI, symbol versioning). scripts/
kaggle-bundle uses this with patchelf --clear-symbol-version and a compatibility library so a
bundled library built against a newer glibc still loads on an older one. ELF64 little-endian only.

Usage: weaken_version_need.py LIBRARY VERSION   (exits 1 when LIBRARY needs no such version)
"""
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: weaken_version_need.py LIBRARY VERSION")
    path, wanted = sys.argv[1], sys.argv[2].encode()
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit(f"{path}: not a little-endian ELF64 file")
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
        changed = 0
        for _, sh_type, _, _, offset, _, link, info, _, _ in sections:
            if sh_type != SHT_GNU_VERNEED:
                continue
            strtab = sections[link][4]
            need = offset
            for _ in range(info):  # sh_info = number of Verneed entries
                _, count, _, aux, next_need = struct.unpack_from("<HHIII", data, need)
                entry = need + aux
                for _ in range(count):
                    _, flags, _, name, next_aux = struct.unpack_from("<IHHII", data, entry)
                    end = data.index(b"\0", strtab + name)
                    if bytes(data[strtab + name:end]) == wanted:
                        struct.pack_into("<H", data, entry + 4, flags | VER_FLG_WEAK)
                        changed += 1
                    entry += next_aux
                need += next_need
        if not changed:
            print(f"{path}: needs no version {wanted.decode()}")
            sys.exit(1)
        f.seek(0)
        f.write(data)
    print(f"{path}: the need for {wanted.decode()} is weak now")


if __name__ == "__main__":
    main()
