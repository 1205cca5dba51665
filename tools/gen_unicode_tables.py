#!/usr/bin/env python3
"""Generate parrot/llm/core/unicode_tables.h: the character classes the BPE pre-tokenizers need.

The pre-tokenizer regexes only ask three questions of a code point: is it a letter (\\p{L}),
a number (\\p{N}) or white space (\\s)? We store the answer as a sorted list of ranges
[lo, hi] -> class, searched with bsearch in tokenizer.c.

The tables must match the Unicode version of the regex engine inside Hugging Face
`tokenizers` (Oniguruma), which is what the ids are compared against. tokenizers 0.2x uses
Unicode 16.0 (checked: 16.0 letters match \\p{L}, 17.0 ones do not), while Python 3.11's
`unicodedata` is 14.0, so we use a backport of Unicode 16.0 with the age property:

    pip install --target /tmp/udp unicodedataplus==16.0.0.post1
    PYTHONPATH=/tmp/udp python tools/gen_unicode_tables.py

It also writes the tables of the optional NFC normalizer (see NFC_UNICODE_AGE).

\\s follows Oniguruma: U+0009..U+000D, U+0085 and the categories Zs, Zl, Zp (not U+001C..1F,
which Python's str.isspace() includes).
"""
import argparse
import os
import sys

try:  # unicodedata2 plus age(), which the NFC tables need
    import unicodedataplus as ud
except ImportError:  # pragma: no cover
    try:
        import unicodedata2 as ud
    except ImportError:  # fallback, older Unicode
        import unicodedata as ud

# HF's NFC normalizer (tokenizers -> unicode-normalization-alignments) has Unicode 9.0 data:
# marks of 9.0 are reordered, those added in 10.0 are not. Normalization data of an assigned
# character never changes (Unicode stability policy), so 9.0's NFC is today's NFC restricted to
# the characters assigned by 9.0, which needs the age property (unicodedataplus).
NFC_UNICODE_AGE = (9, 0)

OTHER, LETTER, NUMBER, SPACE = 0, 1, 2, 3

# HF's Digits pre-tokenizer (SmolLM) does not use the regex engine but Rust's
# char::is_numeric, which follows a newer Unicode (17.0 in tokenizers 0.23) than Oniguruma.
# These code points are N* in Unicode 17.0 but unassigned in 16.0 (computed once as
# {N* in unicodedata2 17.0} - {N* in 16.0}; the reverse difference is empty). The SmolLM test
# checks them against HF.
RUST_EXTRA_NUMERIC = [(0x11DE0, 0x11DE9), (0x16FF4, 0x16FF6)]
NAMES = {LETTER: "PT_CLS_LETTER", NUMBER: "PT_CLS_NUMBER", SPACE: "PT_CLS_SPACE"}


def char_class(cp: int) -> int:
    if 0x09 <= cp <= 0x0D or cp == 0x85:
        return SPACE
    cat = ud.category(chr(cp))
    if cat in ("Zs", "Zl", "Zp"):
        return SPACE
    if cat[0] == "L":
        return LETTER
    if cat[0] == "N":
        return NUMBER
    return OTHER


def ranges():
    out = []  # [lo, hi, cls] for every maximal run of one non-OTHER class
    cur = None
    for cp in range(0x110000):
        c = char_class(cp)
        if cur is not None and c == cur[2] and cp == cur[1] + 1:
            cur[1] = cp
            continue
        if cur is not None:
            out.append(cur)
        cur = [cp, cp, c] if c != OTHER else None
    if cur is not None:
        out.append(cur)
    return out


def merge_ranges(cps):
    out = []
    for cp in sorted(cps):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def assigned_by(ch: str, version) -> bool:
    age = ud.age(ch)
    if not age or not age[0].isdigit():  # "Unassigned"
        return False
    return tuple(int(x) for x in age.split(".")) <= version


def nfc_tables():
    """Tables for the optional NFC normalizer (Qwen2's tokenizer.json normalizes with NFC)."""
    if not hasattr(ud, "age"):
        sys.exit("the NFC tables need unicodedataplus (Unicode 16 with the age property)")
    decomp, ccc = {}, {}
    for cp in range(0x110000):
        ch = chr(cp)
        if not assigned_by(ch, NFC_UNICODE_AGE):
            continue
        d = ud.decomposition(ch)
        if d and not d.startswith("<"):  # canonical only
            decomp[cp] = [int(x, 16) for x in d.split()]
        if ud.combining(ch):
            ccc[cp] = ud.combining(ch)
    # primary composites: pairs whose composition NFC does not exclude
    comp = {tuple(v): cp for cp, v in decomp.items() if len(v) == 2 and ud.normalize("NFC", chr(v[0]) + chr(v[1])) == chr(cp)}
    # Quick check: a string with none of these is already NFC (NFC_QC=Yes and ccc=0 everywhere).
    hangul_vt = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    qc_no = {
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and assigned_by(chr(cp), NFC_UNICODE_AGE) and ud.normalize("NFC", chr(cp)) != chr(cp)
    }
    check = merge_ranges(qc_no | {b for _, b in comp} | set(ccc) | hangul_vt)
    ccc_ranges = []
    for cp in sorted(ccc):
        if ccc_ranges and ccc_ranges[-1][1] == cp - 1 and ccc_ranges[-1][2] == ccc[cp]:
            ccc_ranges[-1][1] = cp
        else:
            ccc_ranges.append([cp, cp, ccc[cp]])
    lines = [
        f"/* NFC normalization (optional), Unicode {NFC_UNICODE_AGE[0]}.{NFC_UNICODE_AGE[1]} like HF's normalizer: canonical combining classes, one-level canonical",
        " * decompositions (cp -> a [b]; Hangul syllables are algorithmic), primary composites",
        " * (a, b) -> c sorted by (a, b), and the code points that can make a string not NFC. */",
        "typedef struct { uint32_t lo, hi; } pt_cp_range;",
        "typedef struct { uint32_t cp, a, b; } pt_cp_triple;",
        "",
        f"#define PT_NFC_N_CHECK {len(check)}",
        "static const pt_cp_range pt_nfc_check[PT_NFC_N_CHECK] = {",
    ]
    lines += [f"    {{0x{lo:05X}, 0x{hi:05X}}}," for lo, hi in check]
    lines += ["};", "", f"#define PT_NFC_N_CCC {len(ccc_ranges)}", "static const pt_unicode_range pt_nfc_ccc[PT_NFC_N_CCC] = {"]
    lines += [f"    {{0x{lo:05X}, 0x{hi:05X}, {c}}}," for lo, hi, c in ccc_ranges]
    lines += ["};", "", f"#define PT_NFC_N_DECOMP {len(decomp)}", "static const pt_cp_triple pt_nfc_decomp[PT_NFC_N_DECOMP] = {"]
    lines += [f"    {{0x{cp:05X}, 0x{v[0]:05X}, 0x{(v[1] if len(v) > 1 else 0):05X}}}," for cp, v in sorted(decomp.items())]
    lines += ["};", "", f"#define PT_NFC_N_COMP {len(comp)}", "static const pt_cp_triple pt_nfc_comp[PT_NFC_N_COMP] = { /* {a, b, composite} */"]
    lines += [f"    {{0x{a:05X}, 0x{b:05X}, 0x{c:05X}}}," for (a, b), c in sorted(comp.items())]
    lines += ["};", ""]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("-o", "--output", default=os.path.join(here, "..", "parrot", "llm", "core", "unicode_tables.h"))
    args = ap.parse_args()
    rs = ranges()
    lines = [
        "/* Generated by tools/gen_unicode_tables.py -- do not edit. */",
        f"/* Unicode {ud.unidata_version} ({ud.__name__}): {len(rs)} ranges of letters (L*), numbers (N*) and",
        " * white space (\\s as Oniguruma defines it); every other code point is PT_CLS_OTHER. */",
        "#ifndef PARROT_UNICODE_TABLES_H",
        "#define PARROT_UNICODE_TABLES_H",
        "#include <stdint.h>",
        "",
        "enum { PT_CLS_OTHER = 0, PT_CLS_LETTER = 1, PT_CLS_NUMBER = 2, PT_CLS_SPACE = 3 };",
        "",
        "typedef struct {",
        "    uint32_t lo, hi; /* inclusive code point range */",
        "    uint8_t cls;",
        "} pt_unicode_range;",
        "",
        f'#define PT_UNICODE_VERSION "{ud.unidata_version}"',
        f"#define PT_UNICODE_N_RANGES {len(rs)}",
        "static const pt_unicode_range pt_unicode_ranges[PT_UNICODE_N_RANGES] = {",
    ]
    for lo, hi, c in rs:
        lines.append(f"    {{0x{lo:05X}, 0x{hi:05X}, {NAMES[c]}}},")
    lines += [
        "};",
        "",
        "/* Numbers for HF's Digits pre-tokenizer (Rust char::is_numeric, Unicode 17) that the table",
        " * above, like Oniguruma's \\p{N}, does not know yet. */",
        f"#define PT_UNICODE_N_EXTRA_NUMERIC {len(RUST_EXTRA_NUMERIC)}",
        "static const pt_unicode_range pt_unicode_extra_numeric[PT_UNICODE_N_EXTRA_NUMERIC] = {",
    ]
    for lo, hi in RUST_EXTRA_NUMERIC:
        assert char_class(lo) == OTHER and char_class(hi) == OTHER
        lines.append(f"    {{0x{lo:05X}, 0x{hi:05X}, PT_CLS_NUMBER}},")
    lines += ["};", ""]
    lines += nfc_tables()
    lines += ["#endif", ""]
    with open(args.output, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.output}: Unicode {ud.unidata_version}, {len(rs)} ranges", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
