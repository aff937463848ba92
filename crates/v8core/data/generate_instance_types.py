#!/usr/bin/env python3
"""Generate instance-types-v8-X.Y.txt (V8 InstanceType value -> name) from a node binary.

Usage:
    python3 generate_instance_types.py NODE_BINARY > instance-types-v8-X.Y.txt

Why
---
V8's post-mortem metadata (the `v8dbg_type_<Class>__<NAME>` constants) names only the ~200
instance types that have a C++ class with debug info; hash tables, contexts, FILLER_TYPE,
FREE_SPACE_TYPE, HOLE_TYPE, BigInt, most fixed-array subtypes and the FIRST_*/LAST_* ranges are
missing. A heap walker needs all of them, and their values move in every V8 minor. The only
complete copy of the enum inside an official node binary is the code V8 generates to print it:
`v8::internal::operator<<(std::ostream&, InstanceType)` (V8 10-12) or
`v8::internal::ToString[abi:cxx11](InstanceType)` (V8 13+, operator<< then just calls it), a
`switch` with one `case TYPE: return "TYPE";` per enumerator (FIRST_*/LAST_* aliases cannot be
case labels, so each value appears once under its own name).

Method
------
1. Parse the ELF section headers and the symbol table (.symtab, else .dynsym) directly, and find
   the function by its mangled name (`_ZN2v88internal8ToStringB5cxx11ENS0_12InstanceTypeE` or
   `_ZN2v88internallsERSoNS0_12InstanceTypeE`; the largest one holds the switch).
2. Disassemble just that function with binutils' `objdump -d -M att`.
3. In every official x64 build from node 18 (V8 10.2) to node 26 (V8 14.6) the switch is ONE
   dense table of 8-byte absolute addresses indexed by the unbiased 16-bit type value:
       cmp $MAX,%reg ; ja DEFAULT ; [movzwl %si,%eax] ; jmp *TABLE(,%reg,8)
   The entries equal to DEFAULT are the holes of the enum. The JS API object range
   (1058..2058, kFirstJSApiObjectType..kLastJSApiObjectType) is handled *before* the table in V8
   11+ by `(type - 1058) <= 1000` (`lea -0x422(%rsi)` / `add $0xfffffbde`), which prints
   "[api object] N" rather than a name, so those values are not enumerators with their own
   names (V8 10.2 still had JS_API_OBJECT_TYPE and JS_LAST_DUMMY_API_OBJECT_TYPE cases).
4. Each non-default table entry is a case body that loads one string literal: `mov $STR,%esi`
   (or %edi, or a rip-relative lea), either with `mov $LEN,%edx` before an
   `__ostream_insert` call (V8 11-12) or NUL-terminated (char_traits::length in V8 10,
   std::string(const char*) in V8 13+). The string is read from the file.
5. Sanity checks, any failure of which aborts with a message on stderr and exit status 1 (no
   partial table is ever printed): exactly one jump table and a bound found; every entry points
   into the function; every case decodes to a string matching [A-Z][A-Z0-9_]*; no name appears
   twice; and every `v8dbg_type_<Class>__<NAME>` constant in the binary (4-byte ints in .data,
   or .bss when 0) names the value the table gives it, except for aliases of another such
   constant with the same value (e.g. DEPENDENT_CODE_TYPE = WEAK_ARRAY_LIST_TYPE in V8 13+).
   That last check is what proves the table is indexed without bias.

Only the Python 3 standard library and `objdump` (binutils) are needed. The header line names
the node version (from the release headers URL compiled into official builds) and the V8 version
(v8::internal::Version::major_/minor_/build_/patch_/embedder_), or, when the node version is not
found, the binary's basename and GNU build ID.
"""

import argparse
import os
import re
import struct
import subprocess
import sys

SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS, SHT_DYNSYM = 2, 3, 8, 11
SHF_ALLOC = 0x2
STT_FUNC = 2

FUNC_NAMES = [
    # V8 13+: operator<< calls this, which holds the switch.
    re.compile(r"_ZN2v88internal8ToString(?:B5cxx11)?ENS0_12InstanceTypeE"),
    # V8 10-12: the switch is in operator<< itself.
    re.compile(r"_ZN2v88internallsERSoNS0_12InstanceTypeE"),
]
NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")
MIN_TYPES = 100  # every V8 since 2018 has well over 200


class DecodeError(Exception):
    pass


class Elf:
    """Just enough of a little-endian ELF64 reader: sections, symbols, memory reads."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF":
            raise DecodeError("%s is not an ELF file" % path)
        if d[4] != 2 or d[5] != 1:
            raise DecodeError("%s is not a little-endian ELF64 file" % path)
        (e_machine,) = struct.unpack_from("<H", d, 18)
        if e_machine != 62:
            raise DecodeError("%s is not an x86-64 binary (e_machine=%d)" % (path, e_machine))
        e_shoff, = struct.unpack_from("<Q", d, 0x28)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", d, 0x3A)
        if e_shoff == 0 or e_shnum == 0:
            raise DecodeError("%s has no section headers" % path)
        self.sections = []
        for i in range(e_shnum):
            (name, typ, flags, addr, off, size, link, info, align, entsize) = struct.unpack_from(
                "<IIQQQQIIQQ", d, e_shoff + i * e_shentsize)
            self.sections.append(dict(name_off=name, type=typ, flags=flags, addr=addr, offset=off,
                                      size=size, link=link, entsize=entsize))
        shstr = self.sections[e_shstrndx]
        for s in self.sections:
            s["name"] = self._cstr_at(shstr["offset"] + s["name_off"])

    def _cstr_at(self, off):
        end = self.data.index(b"\0", off)
        return self.data[off:end].decode("utf-8", "replace")

    def section(self, name):
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def read(self, addr, n):
        """n bytes at virtual address addr (zeros in NOBITS sections such as .bss)."""
        for s in self.sections:
            if not (s["flags"] & SHF_ALLOC) or s["addr"] == 0:
                continue
            if s["addr"] <= addr and addr + n <= s["addr"] + s["size"]:
                if s["type"] == SHT_NOBITS:
                    return bytes(n)
                o = s["offset"] + addr - s["addr"]
                return self.data[o:o + n]
        raise DecodeError("address %#x (+%d) is not in any loaded section" % (addr, n))

    def cstring(self, addr, limit=512):
        for s in self.sections:
            if (s["flags"] & SHF_ALLOC) and s["type"] != SHT_NOBITS and s["addr"] \
                    and s["addr"] <= addr < s["addr"] + s["size"]:
                o = s["offset"] + addr - s["addr"]
                end = self.data.find(b"\0", o, min(o + limit, s["offset"] + s["size"]))
                if end < 0:
                    raise DecodeError("no NUL-terminated string at %#x" % addr)
                return self.data[o:end]
        raise DecodeError("string address %#x is not in any loaded section" % addr)

    def symbols(self):
        """(name, value, size, type, shndx) of .symtab, or of .dynsym when stripped."""
        tab = next((s for s in self.sections if s["type"] == SHT_SYMTAB), None) \
            or next((s for s in self.sections if s["type"] == SHT_DYNSYM), None)
        if tab is None:
            raise DecodeError("%s has no symbol table (.symtab or .dynsym)" % self.path)
        strtab = self.sections[tab["link"]]
        so, d = strtab["offset"], self.data
        out = []
        for (st_name, st_info, _other, shndx, value, size) in struct.iter_unpack(
                "<IBBHQQ", d[tab["offset"]:tab["offset"] + tab["size"]]):
            if st_name == 0:
                continue
            start = so + st_name
            end = d.index(b"\0", start)
            out.append((d[start:end].decode("utf-8", "replace"), value, size, st_info & 0xF,
                        shndx))
        return out

    def build_id(self):
        for s in self.sections:
            if s["name"] == ".note.gnu.build-id":
                o = s["offset"]
                namesz, descsz, _typ = struct.unpack_from("<III", self.data, o)
                desc = o + 12 + ((namesz + 3) & ~3)
                return self.data[desc:desc + descsz].hex()
        return None


def disassemble(path, start, end):
    """[(addr, text)] of objdump's AT&T disassembly of [start, end)."""
    try:
        res = subprocess.run(
            ["objdump", "-d", "-M", "att", "--no-show-raw-insn", "-w",
             "--start-address=%#x" % start, "--stop-address=%#x" % end, path],
            capture_output=True, text=True)
    except FileNotFoundError:
        raise DecodeError("objdump (binutils) is not installed")
    if res.returncode != 0:
        raise DecodeError("objdump failed: %s" % res.stderr.strip())
    insns = []
    for line in res.stdout.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\s+(.*\S)\s*$", line)
        if m:
            insns.append((int(m.group(1), 16), m.group(2)))
    if not insns:
        raise DecodeError("objdump printed no instructions for %#x..%#x" % (start, end))
    return insns


def parse(text):
    """(mnemonic, operands, comment) of one objdump line; prefixes such as notrack/bnd dropped."""
    comment = ""
    if "#" in text:
        text, comment = text.split("#", 1)
    text = re.sub(r"<[^>]*>", "", text).strip()
    parts = text.split(None, 1)
    while parts and parts[0] in ("notrack", "bnd", "lock", "rep", "repz", "repnz", "data16",
                                 "cs", "ds"):
        parts = parts[1].split(None, 1) if len(parts) > 1 else []
    if not parts:
        return "", "", comment.strip()
    return parts[0], (parts[1].strip() if len(parts) > 1 else ""), comment.strip()


JMP_TABLE_RE = re.compile(r"^\*0x([0-9a-f]+)\(,%(\w+),8\)$")
CONDITIONAL = re.compile(r"^j(?!mp)[a-z]+$")


def find_switch(insns):
    """(table address, number of entries, default target) of the one jump table."""
    tables = []
    for i, (addr, text) in enumerate(insns):
        mn, ops, _ = parse(text)
        if mn in ("jmp", "jmpq"):
            m = JMP_TABLE_RE.match(ops)
            if m:
                tables.append((i, int(m.group(1), 16), m.group(2)))
            elif ops.startswith("*"):
                raise DecodeError("unsupported indirect jump at %#x: %s "
                                  "(only absolute 8-byte jump tables are handled)" % (addr, text))
    if not tables:
        raise DecodeError("no jump table (jmp *TABLE(,%reg,8)) in the function")
    if len(tables) > 1:
        raise DecodeError("%d jump tables in the function (at %s); this generator decodes one"
                          % (len(tables), ", ".join("%#x" % insns[i][0] for i, _, _ in tables)))
    i, table, idx = tables[0]
    idx_regs = register_aliases(idx)
    # The bound: the nearest conditional branch before the jmp must be ja/jae right after a
    # cmp $MAX; in between only moves (e.g. movzwl %si,%eax) are allowed, so the index is
    # not biased.
    for j in range(i - 1, max(i - 8, 0) - 1, -1):
        mn, ops, _ = parse(insns[j][1])
        if CONDITIONAL.match(mn):
            break
        if not mn.startswith("mov") and mn != "nop" and not mn.startswith("nop"):
            dst = ops.rsplit(",", 1)[-1].strip().lstrip("%")
            if dst in idx_regs:
                raise DecodeError("the jump-table index %%%s is modified (%s) at %#x; "
                                  "biased tables are not handled" % (idx, insns[j][1], insns[j][0]))
    else:
        raise DecodeError("no bounds check before the jump table at %#x" % insns[i][0])
    if mn not in ("ja", "jae", "jnb", "jnbe"):
        raise DecodeError("the branch before the jump table is %s at %#x, not ja/jae"
                          % (insns[j][1], insns[j][0]))
    m = re.match(r"^([0-9a-f]+)", ops)
    if not m:
        raise DecodeError("cannot read the target of %s at %#x" % (insns[j][1], insns[j][0]))
    default = int(m.group(1), 16)
    cmn, cops, _ = parse(insns[j - 1][1])
    cm = re.match(r"^\$0x([0-9a-f]+),%\w+$", cops)
    if cmn not in ("cmp", "cmpw", "cmpl", "cmpq") or not cm:
        raise DecodeError("no cmp $MAX before %s at %#x (found %s)"
                          % (insns[j][1], insns[j][0], insns[j - 1][1]))
    bound = int(cm.group(1), 16)
    count = bound + 1 if mn in ("ja", "jnbe") else bound
    return table, count, default


def register_aliases(reg):
    """The names of the x86-64 register reg in every width (rax/eax/ax/al, r12/r12d/...)."""
    legacy = {"ax": "a", "bx": "b", "cx": "c", "dx": "d"}
    m = re.match(r"^r(\d+)[dwb]?$", reg)
    if m:
        n = m.group(1)
        return {"r" + n, "r%sd" % n, "r%sw" % n, "r%sb" % n}
    base = re.sub(r"^[re]", "", reg)
    if base in ("ax", "bx", "cx", "dx"):
        c = legacy[base]
        return {"r%sx" % c, "e%sx" % c, "%sx" % c, "%sl" % c, "%sh" % c}
    if base in ("si", "di", "bp", "sp", "sil", "dil", "bpl", "spl"):
        b = base[:2]
        return {"r" + b, "e" + b, b, b + "l"}
    return {reg}


def case_string(elf, insns, index, start, end, target):
    """The name a case body starting at target loads."""
    seen = set()
    for _hop in range(4):
        if target not in index:
            raise DecodeError("case target %#x is not an instruction boundary" % target)
        seen.add(target)
        s = length = None
        k = index[target]
        nxt = None
        while k < len(insns):
            addr, text = insns[k]
            mn, ops, comment = parse(text)
            m = re.match(r"^\$0x([0-9a-f]+),%(e?si|e?di|r[sd]i)$", ops)
            if mn in ("mov", "movl", "movq") and m and s is None:
                s = int(m.group(1), 16)
            m = re.match(r"^-?0x[0-9a-f]+\(%rip\),%r[sd]i$", ops)
            if mn in ("lea", "leaq") and m and s is None:
                cm = re.match(r"^([0-9a-f]+)", comment)
                if cm:
                    s = int(cm.group(1), 16)
            m = re.match(r"^\$0x([0-9a-f]+),%e?dx$", ops)
            if mn in ("mov", "movl") and m:
                length = int(m.group(1), 16)
            if mn.startswith("call") or mn.startswith("ret"):
                break
            if mn in ("jmp", "jmpq"):
                jm = re.match(r"^([0-9a-f]+)$", ops)
                if s is None and jm and start <= int(jm.group(1), 16) < end:
                    nxt = int(jm.group(1), 16)  # a case that shares another one's body
                break
            k += 1
        if s is not None:
            raw = elf.read(s, length) if length is not None else elf.cstring(s)
            return raw.decode("ascii", "replace")
        if nxt is None or nxt in seen:
            break
        target = nxt
    raise DecodeError("no string literal in the case body at %#x" % target)


def find_function(elf, syms):
    cands = []
    for name, value, size, typ, shndx in syms:
        if typ == STT_FUNC and size > 0 and any(p.fullmatch(name) for p in FUNC_NAMES):
            cands.append((size, value, name))
    if not cands:
        raise DecodeError("neither v8::internal::ToString(InstanceType) nor "
                          "v8::internal::operator<<(std::ostream&, InstanceType) is in the "
                          "symbol table of %s" % elf.path)
    return sorted(set(cands), reverse=True)


def decode(elf, syms):
    errors = []
    for size, start, name in find_function(elf, syms):
        try:
            insns = disassemble(elf.path, start, start + size)
            table, count, default = find_switch(insns)
            index = {a: k for k, (a, _) in enumerate(insns)}
            raw = elf.read(table, 8 * count)
            types = {}
            for value, (tgt,) in enumerate(struct.iter_unpack("<Q", raw)):
                if tgt == default:
                    continue
                if not start <= tgt < start + size:
                    raise DecodeError("table entry %d (%#x) points outside the function"
                                      % (value, tgt))
                s = case_string(elf, insns, index, start, start + size, tgt)
                if not NAME_RE.fullmatch(s):
                    raise DecodeError("case %d (body at %#x) prints %r, not a type name"
                                      % (value, tgt, s))
                types[value] = s
            return name, table, count, types
        except DecodeError as e:
            errors.append("%s at %#x: %s" % (name, start, e))
    raise DecodeError("could not decode the InstanceType switch:\n  " + "\n  ".join(errors))


def read_int(elf, value, size):
    return struct.unpack("<i", elf.read(value, 4))[0] if size == 4 else None


def check(elf, syms, types):
    """Fail unless the table is consistent and agrees with the v8dbg_type_* constants."""
    if len(types) < MIN_TYPES:
        raise DecodeError("only %d types decoded (expected more than %d)" % (len(types), MIN_TYPES))
    by_name = {}
    for v, n in types.items():
        if n in by_name:
            raise DecodeError("name %s appears twice (values %d and %d)" % (n, by_name[n], v))
        by_name[n] = v
    meta = {}
    for name, value, size, _typ, _shndx in syms:
        if name.startswith("v8dbg_type_") and "__" in name:
            if size != 4:
                raise DecodeError("%s has size %d, expected 4" % (name, size))
            meta[name.split("__", 1)[1]] = read_int(elf, value, size)
    if not meta:
        print("warning: no v8dbg_type_* constants in %s; table not cross-checked" % elf.path,
              file=sys.stderr)
        return 0
    bad = []
    for n, v in sorted(meta.items()):
        if types.get(v) == n:
            continue
        other = types.get(v)
        # an alias: the value has another metadata-declared name, and this name is nowhere else
        if other is not None and meta.get(other) == v and n not in by_name:
            continue
        bad.append("v8dbg_type_*__%s = %d, but the table has %s at %d and %s at %s"
                   % (n, v, other, v, n, by_name.get(n)))
    if bad:
        raise DecodeError("the decoded table disagrees with the metadata:\n  " + "\n  ".join(bad))
    return len(meta)


def versions(elf, syms):
    """(node version or None, V8 version string or None)."""
    node = None
    ro = elf.section(".rodata")
    if ro is not None and ro["type"] != SHT_NOBITS:
        blob = elf.data[ro["offset"]:ro["offset"] + ro["size"]]
        m = re.search(rb"/v(\d+\.\d+\.\d+)/node-v\1-headers\.tar\.gz\0", blob)
        if m:
            node = m.group(1).decode()
    parts = {}
    for name, value, size, _typ, _shndx in syms:
        m = re.fullmatch(r"_ZN2v88internal7Version(\d+)(major_|minor_|build_|patch_|embedder_|"
                         r"candidate_)E", name)
        if m and len(m.group(2)) == int(m.group(1)):
            parts[m.group(2)] = (value, size)
    v8 = None
    try:
        if all(k in parts for k in ("major_", "minor_", "build_", "patch_")):
            major, minor, build, patch = (read_int(elf, *parts[k])
                                          for k in ("major_", "minor_", "build_", "patch_"))
            v8 = "%d.%d.%d" % (major, minor, build)
            if patch:
                v8 += ".%d" % patch
            if "embedder_" in parts:
                (ptr,) = struct.unpack("<Q", elf.read(parts["embedder_"][0], 8))
                if ptr:
                    v8 += elf.cstring(ptr).decode("ascii", "replace")
            if "candidate_" in parts and elf.read(parts["candidate_"][0], 1) != b"\0":
                v8 += " (candidate)"
    except DecodeError:
        v8 = None
    return node, v8


def main():
    ap = argparse.ArgumentParser(
        description="Print the V8 InstanceType enum (value<TAB>NAME) decoded from a node binary.")
    ap.add_argument("binary", help="path of a node (or d8) x86-64 ELF binary with symbols")
    args = ap.parse_args()
    try:
        elf = Elf(args.binary)
        syms = elf.symbols()
        func, table, count, types = decode(elf, syms)
        nmeta = check(elf, syms, types)
        node, v8 = versions(elf, syms)
    except (DecodeError, OSError) as e:
        print("generate_instance_types.py: %s: %s" % (args.binary, e), file=sys.stderr)
        return 1
    fn = ("ToString(InstanceType)" if "ToString" in func
          else "operator<<(ostream&, InstanceType)")
    if node:
        what = "node v%s" % node
    else:
        what = "%s (build ID %s)" % (os.path.basename(args.binary), elf.build_id() or "unknown")
    out = ["# InstanceType value -> name, decoded by generate_instance_types.py from the "
           "%s jump table of %s, V8 %s" % (fn, what, v8 or "unknown")]
    out += ["%d\t%s" % (v, types[v]) for v in sorted(types)]
    sys.stdout.write("\n".join(out) + "\n")
    print("%s: %d types from the %d-entry table at %#x in %s; %d v8dbg_type_* constants agree"
          % (os.path.basename(args.binary), len(types), count, table, func, nmeta),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
