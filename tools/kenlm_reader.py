"""Read the n-grams of a KenLM binary language model (trie layout), for tools/build_ime_dict.py.

Written from the format as KenLM (lm/binary_format.cc, search_trie.cc, trie.cc,
bhiksha.cc, quantize.cc, vocab.cc) lays it out, format version 5:

    sanity header (magic, test floats and integers) | fixed parameters (order, model type,
    has vocabulary, search version) | counts (uint64 per order) | pad to 8
    sorted vocabulary: uint64 count, then the 64-bit MurmurHash64A of every word, sorted
        (a word's id is its position + 1; id 0 is <unk>)
    [quantized] 8-byte header (version, prob bits, backoff bits), then per middle order a
        prob table and a backoff table (2^bits floats each), then the longest order's prob table
    unigrams: (count + 2) x {float log10 prob, float log10 backoff, uint64 next}
    per middle order: [array-compressed pointers: 8-byte header, uint64 offsets] then
        bit-packed entries {word id, quantized backoff, quantized prob, low bits of next}
    longest order: bit-packed entries {word id, quantized prob}
    the words, NUL-terminated, in id order.

Only the layouts a libime language model uses are read (QUANT_TRIE, QUANT_ARRAY_TRIE);
anything else is refused with a clear error. Build time only: the product never reads this.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"mmap lm http://kheafield.com/code format version 5\n\0"
SANITY_SIZE = 0x58  # the magic (padded) and the test values, as KenLM writes them on 64-bit
QUANT_TRIE, QUANT_ARRAY_TRIE = 3, 5
QUANT_VERSION = 2  # KenLM's kSeparatelyQuantizeVersion


class KenlmFormatError(ValueError):
    pass


@dataclass
class Ngrams:
    """One order's n-grams: their word ids (n columns) and log10 probabilities/backoffs."""
    words: np.ndarray  # (count, n) int64, in reading order (w1 .. wn)
    prob: np.ndarray  # (count,) float32, log10
    backoff: np.ndarray | None  # (count,) float32, log10 (None for the highest order)


@dataclass
class KenlmModel:
    vocab: list[str]  # by word id (0: <unk>)
    orders: list[Ngrams]  # orders[0] = unigrams (words column = id)


def required_bits(max_value: int) -> int:
    return max(0, int(max_value).bit_length())


def _read_bits(data: np.ndarray, bit_offsets: np.ndarray, length: int) -> np.ndarray:
    """Little-endian bit fields of `length` (<= 57) bits at the given bit offsets."""
    if length == 0:
        return np.zeros(len(bit_offsets), dtype=np.uint64)
    byte = (bit_offsets >> 3).astype(np.int64)
    raw = data[byte[:, None] + np.arange(8)].copy().view("<u8")[:, 0]
    shift = (bit_offsets & 7).astype(np.uint64)
    return (raw >> shift) & np.uint64((1 << length) - 1)


def murmur64a(data: bytes, seed: int = 0) -> int:
    """MurmurHash64A (KenLM's vocabulary hash), for checking the vocabulary's order."""
    m, r, mask = 0xC6A4A7935BD1E995, 47, (1 << 64) - 1
    h = (seed ^ (len(data) * m)) & mask
    n8 = len(data) // 8
    for (k,) in struct.iter_unpack("<Q", data[: n8 * 8]):
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h ^= k
        h = (h * m) & mask
    tail = data[n8 * 8:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & mask
    h ^= h >> r
    h = (h * m) & mask
    h ^= h >> r
    return h


def _chop_bits(max_offset: int, max_next: int, bhiksha_bits: int) -> int:
    required = required_bits(max_next)
    best, lowest = 0, None
    for chop in range(0, min(required, bhiksha_bits) + 1):
        change = (max_next >> (required - chop)) * 64 - max_offset * chop
        if lowest is None or change < lowest:
            lowest, best = change, chop
    return best


def read_kenlm(path: str) -> KenlmModel:
    """The model's n-grams; KenlmFormatError for a file this cannot read (or a damaged one)."""
    try:
        return _read(path)
    except KenlmFormatError:
        raise
    except (IndexError, ValueError, struct.error) as e:  # (UnicodeDecodeError is a ValueError)
        raise KenlmFormatError(f"{path}: damaged or truncated ({e})") from e


def _read(path: str) -> KenlmModel:
    blob = open(path, "rb").read()
    data = np.frombuffer(blob + b"\0" * 16, dtype=np.uint8)
    if not blob.startswith(MAGIC):
        raise KenlmFormatError(f"{path}: not a KenLM binary (format version 5)")
    zero, one, minus_half = struct.unpack_from("<3f", blob, 0x38)
    if (zero, one, minus_half) != (0.0, 1.0, -0.5):
        raise KenlmFormatError(f"{path}: byte order or float format differs from this machine's")
    order, _prob_mult, model_type, has_vocab, _search_version = struct.unpack_from("<BxxxfiBxxxI", blob, SANITY_SIZE)
    counts = list(struct.unpack_from(f"<{order}Q", blob, SANITY_SIZE + 20))
    if model_type not in (QUANT_TRIE, QUANT_ARRAY_TRIE) or order < 2 or not has_vocab:
        raise KenlmFormatError(f"{path}: model type {model_type}, order {order}, vocabulary {has_vocab}: "
                               "only quantized tries with their words are read")
    pos = (SANITY_SIZE + 20 + 8 * order + 7) // 8 * 8

    # Vocabulary hashes (checked against the words at the end).
    (n_hashes,) = struct.unpack_from("<Q", blob, pos)
    hashes = np.frombuffer(blob, dtype="<u8", count=n_hashes, offset=pos + 8)
    pos += 8 + 8 * counts[0]  # KenLM sizes it by the unigram count (<unk> included)

    # Quantization tables.
    version, prob_bits, backoff_bits = blob[pos], blob[pos + 1], blob[pos + 2]
    if version != QUANT_VERSION:
        raise KenlmFormatError(f"{path}: quantization version {version}")
    table = pos + 8
    middle_tables = []
    for _ in range(order - 2):
        p = np.frombuffer(blob, dtype="<f4", count=1 << prob_bits, offset=table)
        table += 4 << prob_bits
        b = np.frombuffer(blob, dtype="<f4", count=1 << backoff_bits, offset=table)
        table += 4 << backoff_bits
        middle_tables.append((p, b))
    longest_table = np.frombuffer(blob, dtype="<f4", count=1 << prob_bits, offset=table)
    pos += (order - 2) * ((4 << backoff_bits) + (4 << prob_bits)) + (4 << prob_bits) + 8

    # Unigrams.
    uni = np.frombuffer(blob, dtype=np.dtype([("prob", "<f4"), ("backoff", "<f4"), ("next", "<u8")]),
                        count=counts[0] + 2, offset=pos)
    pos += 16 * (counts[0] + 2)
    orders = [Ngrams(np.arange(counts[0], dtype=np.int64)[:, None], uni["prob"][: counts[0]].copy(),
                     uni["backoff"][: counts[0]].copy())]
    parent_next = uni["next"][: counts[0] + 1].astype(np.int64)  # child range of each parent
    parent_words = orders[0].words

    word_bits = required_bits(counts[0])
    for n in range(2, order + 1):
        entries = counts[n - 1]
        longest = n == order
        if longest:
            bhiksha_size, inline = 0, 0
            quant_bits = prob_bits
            base = pos
        else:
            max_next = counts[n]
            if model_type == QUANT_ARRAY_TRIE:
                aligned = (pos + 7) // 8 * 8
                b_version, configured = blob[aligned], blob[aligned + 1]
                if b_version != 0:
                    raise KenlmFormatError(f"{path}: pointer compression version {b_version}")
                chop = _chop_bits(entries + 1, max_next, configured)
                array_count = (max_next >> (required_bits(max_next) - chop)) + 1
                offsets = np.frombuffer(blob, dtype="<u8", count=array_count, offset=aligned + 8).astype(np.int64)
                bhiksha_size = 8 * (1 + array_count) + 7
                inline = required_bits(max_next) - chop
            else:
                bhiksha_size, inline, offsets = 0, required_bits(max_next), None
            quant_bits = prob_bits + backoff_bits
            base = pos + bhiksha_size
        total = word_bits + quant_bits + inline
        index = np.arange(entries + (0 if longest else 1), dtype=np.uint64)
        at = index * np.uint64(total)
        bytes_data = data[base:]
        words = _read_bits(bytes_data, at[:entries], word_bits).astype(np.int64)
        if longest:
            prob = longest_table[_read_bits(bytes_data, at[:entries] + np.uint64(word_bits), prob_bits).astype(np.int64)]
            backoff = None
        else:
            p_tab, b_tab = middle_tables[n - 2]
            q = at[:entries] + np.uint64(word_bits)
            backoff = b_tab[_read_bits(bytes_data, q, backoff_bits).astype(np.int64)]
            prob = p_tab[_read_bits(bytes_data, q + np.uint64(backoff_bits), prob_bits).astype(np.int64)]
            low = _read_bits(bytes_data, at + np.uint64(word_bits + quant_bits), inline).astype(np.int64)
            if offsets is not None:  # high bits: the last offset-array slot whose value <= index
                high = np.searchsorted(offsets, np.arange(entries + 1), side="right") - 1
                child_next = (high << inline) | low
            else:
                child_next = low
        pos = base + ((1 + entries) * total + 7) // 8 + 8  # (one extra entry, and 8 bytes of slack)
        # Each entry's context: the parent whose child range holds it.
        parent = np.searchsorted(parent_next, np.arange(entries), side="right") - 1
        if len(parent_next) and (parent_next[-1] != entries or np.any(np.diff(parent_next) < 0)):
            raise KenlmFormatError(f"{path}: order {n}: inconsistent child pointers")
        ngram_words = np.concatenate([parent_words[parent], words[:, None]], axis=1)
        # KenLM's trie is keyed backwards (the predicted word first, then the context
        # words from the nearest): the n-gram in reading order is the path reversed.
        orders.append(Ngrams(ngram_words[:, ::-1].copy(), prob.astype(np.float32),
                             None if backoff is None else backoff.astype(np.float32)))
        if not longest:
            parent_next, parent_words = child_next, ngram_words

    # The words, in id order, after the data structures.
    tail = blob[pos:].split(b"\0")
    vocab = [w.decode("utf-8") for w in tail[: counts[0]]]
    if len(vocab) != counts[0] or vocab[0] != "<unk>":
        raise KenlmFormatError(f"{path}: vocabulary strings not where expected")
    # Word id i (> 0) is the i-th smallest hash: check a spread of them against the words.
    for i in np.linspace(1, n_hashes, num=min(n_hashes, 64), dtype=np.int64).tolist():
        if murmur64a(vocab[i].encode("utf-8")) != int(hashes[i - 1]):
            raise KenlmFormatError(f"{path}: word {i} ({vocab[i]!r}) does not match its hash")
    return KenlmModel(vocab, orders)
