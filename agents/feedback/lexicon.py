"""ClassifierConfig -> compiled term tables; normalised text -> hits (term, span, what it means)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple
from importlib import resources

from agents.feedback.config import ClassifierConfig
from agents.feedback.text import CLAUSE_PUNCT, EN_COMMON, TOKEN, is_cjk_term, normalise

# What a hit means. One term can carry several (e.g. "好" is a sentiment word and an intensifier).
SENT, NEG, INT, CONTRAST, SARC, CAT, CRIT, HIGH, EXCL = "sent", "neg", "int", "contrast", "sarc", "cat", "crit", "high", "excl"
SENTIMENT_KINDS = frozenset((SENT, NEG, INT, CONTRAST, SARC))


class Entry(NamedTuple):
    kind: str
    label: str  # category, urgency family or "" for sentiment kinds
    weight: float


KIND = itemgetter(0)  # Entry.kind, read in C (the kind filters run on every hit of every message)


class Hit(NamedTuple):
    start: int
    end: int
    entries: tuple[Entry, ...]
    cjk: bool  # matched as a substring (Chinese / emoji) rather than as words


_STEM_CACHE: dict[str, str] = {}
# words whose last "s" is not a plural: "news" folded to "new" made "the new website" read as the
# media family's "the news", a third of that family's false criticals on the own set
_WHOLE = frozenset(("news", "lens"))


def stem(word: str) -> str:
    """A deliberately light English stemmer: refund/refunds/refunded/refunding -> one key."""
    cached = _STEM_CACHE.get(word)
    if cached is not None:
        return cached
    w = word
    if len(w) > 3 and w.isalpha() and w not in EN_COMMON and w not in _WHOLE:
        if w.endswith(("ies", "ied")) and len(w) > 4:
            w = w[:-3] + "y"
        elif w.endswith(("sses", "shes", "ches", "xes", "zes")):
            w = w[:-2]
        elif w.endswith("ing") and len(w) > 5:
            w = w[:-3]
            if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
        elif w.endswith("ed") and len(w) > 4:
            w = w[:-2]
            if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]
        elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        if len(w) > 3 and w.endswith("e"):
            w = w[:-1]
    if len(_STEM_CACHE) < 200_000:
        _STEM_CACHE[word] = w
    return w


def _vader_lexicon() -> dict[str, float]:
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            try:
                out[parts[0].lower()] = float(parts[1])
            except ValueError:
                continue
    return out


@dataclass
class Lexicon:
    """Term tables compiled from the config: word phrases, substrings, regex patterns."""

    words: dict[str, tuple[Entry, ...]] = field(default_factory=dict)  # "stem stem" -> entries (shared by its hits)
    first_words: dict[str, tuple[int, ...]] = field(default_factory=dict)  # first stem -> phrase lengths
    max_words: int = 1
    chars: dict[str, tuple[Entry, ...]] = field(default_factory=dict)  # normalised substring -> entries
    char_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)  # first char -> lengths, longest first
    char_starts: re.Pattern[str] = re.compile(r"(?!)")
    vader: dict[str, float] = field(default_factory=dict)
    sentiment_words: set[str] = field(default_factory=set)           # one-word keys the config already scores
    patterns: list[tuple[re.Pattern[str], Entry]] = field(default_factory=list)

    def add(self, term: str, entry: Entry) -> None:
        norm = normalise(term.strip())
        if is_cjk_term(norm):
            self.chars[norm] = self.chars.get(norm, ()) + (entry,)
            return
        stems = [stem(t) for t in TOKEN.findall(norm)]
        if not stems:
            return
        key = " ".join(stems)
        self.words[key] = self.words.get(key, ()) + (entry,)
        lengths = set(self.first_words.get(stems[0], ())) | {len(stems)}
        self.first_words[stems[0]] = tuple(sorted(lengths, reverse=True))
        self.max_words = max(self.max_words, len(stems))

    def freeze(self) -> None:
        lengths: dict[str, set[int]] = {}
        for term in self.chars:
            lengths.setdefault(term[0], set()).add(len(term))
        self.char_lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}
        # Positions where some substring term may start, found in C rather than a Python loop.
        firsts = "".join(sorted(lengths))
        self.char_starts = re.compile("[" + re.escape(firsts) + "]") if firsts else re.compile(r"(?!)")
        self.sentiment_words = {k for k, es in self.words.items()
                                if " " not in k and any(e.kind in SENTIMENT_KINDS for e in es)}

    @classmethod
    def compile(cls, cfg: ClassifierConfig) -> "Lexicon":
        lex = cls()
        s = cfg.sentiment
        if s.use_vader_lexicon:
            lex.vader = _vader_lexicon()
        for lang in ("en", "zh"):
            for t in getattr(s.negators, lang):
                lex.add(t, Entry(NEG, "", 0.0))
            for t, w in getattr(s.intensifiers, lang).items():
                lex.add(t, Entry(INT, "", w))
            for t in getattr(s.contrast, lang):
                lex.add(t, Entry(CONTRAST, "", 0.0))
            for t, w in getattr(s.sarcasm, lang).items():
                lex.add(t, Entry(SARC, "", w))
            for t, w in getattr(s.terms, lang).items():
                lex.add(t, Entry(SENT, "", w))
            for cat, terms in cfg.categories.categories.items():
                for t, w in getattr(terms, lang).items():
                    lex.add(t, Entry(CAT, cat, w))
            for kind, families in ((CRIT, cfg.urgency.critical), (HIGH, cfg.urgency.high)):
                for name, fam in families.items():
                    for t in getattr(fam.terms, lang):
                        lex.add(t, Entry(kind, name, 1.0))
            for t in getattr(cfg.urgency.exclude, lang):
                lex.add(t, Entry(EXCL, "", 0.0))
        for kind, families in ((CRIT, cfg.urgency.critical), (HIGH, cfg.urgency.high)):
            for name, fam in families.items():
                for p in fam.patterns:
                    lex.patterns.append((re.compile(p), Entry(kind, name, 1.0)))
        lex.freeze()
        return lex

    def scan(self, norm: str) -> tuple[list[Hit], list[tuple[str, int, int]]]:
        """Every term occurrence in `norm` (overlaps included), and the Latin tokens."""
        hits: list[Hit] = []
        tokens = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(norm)] if _has_latin(norm) else []
        if tokens:
            self._scan_words(tokens, hits)
        lengths = self.char_lengths
        chars = self.chars
        for m in self.char_starts.finditer(norm):
            i = m.start()
            for n in lengths[m.group()]:
                entries = chars.get(norm[i:i + n])
                if entries is not None:
                    hits.append(Hit(i, i + n, entries, True))
        for pattern, entry in self.patterns:
            for m in pattern.finditer(norm):
                hits.append(Hit(m.start(), m.end(), (entry,), True))
        return hits, tokens

    def _scan_words(self, tokens: list[tuple[str, int, int]], hits: list[Hit]) -> None:
        stems = [stem(t[0]) for t in tokens]
        words, first, vader = self.words, self.first_words, self.vader
        scored = self.sentiment_words
        n_tok = len(tokens)
        for i, s in enumerate(stems):
            ns = first.get(s)
            if ns is not None:
                for n in ns:
                    if i + n > n_tok:
                        continue
                    entries = words.get(s if n == 1 else " ".join(stems[i:i + n]))
                    if entries is not None:
                        hits.append(Hit(tokens[i][1], tokens[i + n - 1][2], entries, False))
            v = vader.get(tokens[i][0])
            if v is not None and s not in scored:
                hits.append(Hit(tokens[i][1], tokens[i][2], (Entry(SENT, "vader", v),), False))


_LATIN = re.compile(r"[a-z0-9$]")


def _has_latin(norm: str) -> bool:
    return _LATIN.search(norm) is not None


def clause_break(norm: str, start: int, end: int) -> bool:
    """True when punctuation separates two positions (negation never reaches across it)."""
    for c in norm[start:end]:
        if c in CLAUSE_PUNCT:
            return True
    return False
