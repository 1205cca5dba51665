"""Character edit distance: the one measure behind the IME's character accuracy and the ASR's
character error rate."""


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (substitution, insertion, deletion each 1)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
