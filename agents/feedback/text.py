"""Raw text -> normalised text (same length, simplified script, lower case), language and tokens."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources

# A character is "Chinese" when it is a CJK unified ideograph (basic block + extension A + compatibility).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")
_LATIN_LETTER = re.compile(r"[a-z]")
_OTHER_LETTER = re.compile(r"[\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0e00-\u0e7f\u0900-\u097f]")
# Latin tokens: words with an inner apostrophe, numbers, "10/10", "$"; punctuation is kept as a
# token because negation and intensifiers never reach across it.
TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?(?:/[0-9]+)?|\$|[.,!?;:。，！？；：]")
CLAUSE_PUNCT = frozenset(".,!?;:。，！？；：\n")
_CLAUSE_RE = re.compile(r"[.,!?;:。，！？；：\n]")

# Folds the lexicon and the text must agree on; OpenCC's tables miss a few we need.
_EXTRA_FOLDS = {"著": "着", "’": "'", "‘": "'", "“": '"', "”": '"', "\u3000": " ", "\u00a0": " "}


def _opencc_pairs(name: str) -> dict[str, str]:
    """Single-character mappings of one OpenCC dictionary (first candidate wins)."""
    pairs: dict[str, str] = {}
    try:
        text = resources.files("opencc").joinpath("dictionary", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - dependency missing
        return pairs
    for line in text.splitlines():
        src, _, dst = line.partition("\t")
        dst = dst.split(" ")[0]
        if len(src) == 1 and len(dst) == 1:
            pairs[src] = dst
    return pairs


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str]:
    """str.translate table: full width -> ASCII, regional variants -> traditional -> simplified.

    Every mapping is one character to one character, so spans in the normalised text are
    spans in the original text.
    """
    to_trad = {**_opencc_pairs("HKVariantsRev.txt"), **_opencc_pairs("TWVariantsRev.txt")}
    t2s = _opencc_pairs("TSCharacters.txt")
    table: dict[int, str] = {}
    for src, dst in to_trad.items():
        table[ord(src)] = t2s.get(dst, dst)
    for src, dst in t2s.items():
        table[ord(src)] = dst
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[code] = chr(code - 0xFEE0).lower()
    for src, dst in _EXTRA_FOLDS.items():
        table[ord(src)] = dst
    return table


def normalise(text: str) -> str:
    """Lower case, full width folded, simplified script; always the same length as `text`."""
    low = text.lower()
    if len(low) != len(text):  # a few characters (e.g. "İ") grow when lowered
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if low.isascii():  # the table maps no ASCII character: nothing to fold
        return low
    return low.translate(fold_table())


_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+")


def asks(norm: str) -> bool:
    """Whether a normalised message asks something: a "?" outside any web address. A phishing
    report quoting "http://.../login?id=7" is not a question for the rules that treat questions
    differently (the full-width mark is folded to "?" by `normalise`)."""
    if "?" not in norm:
        return False
    if "http" not in norm and "www." not in norm:
        return True
    return "?" in _WEB_ADDRESS.sub(" ", norm)


def key_of(text: str) -> str:
    """Correction key: normalised text with only letters, digits and CJK kept."""
    norm = unicodedata.normalize("NFKC", normalise(text))
    return "".join(c for c in norm if c.isalnum())


def is_cjk_term(term: str) -> bool:
    """Terms with any non-ASCII character are matched as substrings, the rest as word sequences."""
    return any(ord(c) > 127 for c in term)


# Common English words: enough to tell English from other Latin-script languages.
EN_COMMON = frozenset("""
a an the and or but if of to in on at for with from by about as is are was were be been being am
i you he she it we they me my your our their this that these those there here what when where why how
not no never do does did done have has had will would can could should must may might just very so too
all any some more most much many one two three get got go went come came make made like love hate good
bad great ok okay thanks thank please buy bought order ordered item product price delivery service
refund return still after before again only also even than then out up down off over into its it's
i'm don't can't won't didn't doesn't isn't wasn't that's what's
""".split())
FOREIGN_COMMON = frozenset("""
el la los las de del que y en un una es por para con muy pero producto llegó
le les des et est une pour pas avec très mais produit livraison
der die das und ist nicht ein eine mit sehr aber wann am zu
il lo gli di che non è sono molto ma
o os as um uma não com muito mas
""".split()) - EN_COMMON


def detect_language(norm: str, *, cjk_per_latin_letter: float = 3.0, min_english_share: float = 0.5,
                    words: list[str] | None = None) -> tuple[str, float]:
    """Normalised text -> ('en' | 'zh' | 'other', confidence in [0, 1]). `words`: its Latin tokens, if known."""
    latin = len(_LATIN_LETTER.findall(norm))
    if norm.isascii():
        cjk = other = 0
    else:
        if _KANA_HANGUL.search(norm):
            return "other", 0.9
        cjk = len(_CJK.findall(norm))
        other = len(_OTHER_LETTER.findall(norm))
    if cjk == 0 and latin == 0 and other == 0:
        return "other", 0.3  # emoji, digits or punctuation only: nothing to go on
    cjk_weight = cjk * cjk_per_latin_letter
    if cjk_weight >= latin + other:
        share = cjk_weight / (cjk_weight + latin + other)
        return "zh", round(min(1.0, 0.5 + share / 2 + min(cjk, 10) * 0.02), 3)
    if other > latin:
        return "other", round(other / (other + latin), 3)
    words = [t for t in (TOKEN.findall(norm) if words is None else words) if t[0].isalpha()]
    en = sum(1 for w in words if w in EN_COMMON)
    foreign = sum(1 for w in words if w in FOREIGN_COMMON) + other
    if foreign and en / (en + foreign) < min_english_share:
        return "other", round(0.5 + 0.5 * foreign / (en + foreign), 3)
    conf = 0.6 + 0.4 * min(1.0, (en + 1) / 4) if words else 0.5
    if cjk:
        conf *= 0.9
    return "en", round(min(conf, 1.0), 3)


def map_hint(hint: str | None) -> str | None:
    """A channel's language tag ('zh-Hant', 'en_US', 'yue') -> 'en' | 'zh' | 'other' | None."""
    if not hint:
        return None
    h = hint.strip().lower().replace("_", "-")
    if h.startswith(("zh", "yue", "cmn", "chi", "zho")):
        return "zh"
    if h.startswith(("en", "eng")):
        return "en"
    return "other"


# Where one clause ends and the next begins: sentence punctuation (not the point or comma inside
# a number, "$19.99", "1,000"), and the contrast words that turn a message around. Plain "and"
# is left out: "fast and cheap shipping" would lose its sentiment to a clause without a topic.
_CLAUSE_SEP = re.compile(
    r"[.,](?![0-9])|[!?;:。，！？；：\n]"
    r"|(?<![a-z0-9'])(?:but|however|although|though|whereas)(?![a-z0-9'])"
    r"|但是|(?<!不)但|不过|可是|然而")


def clause_bounds(norm: str) -> list[tuple[int, int]]:
    """Normalised text -> (start, end) of each clause, separators left out, in order."""
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _CLAUSE_SEP.finditer(norm):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(norm):
        out.append((pos, len(norm)))
    return out
