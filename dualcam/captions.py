"""Captions of simulated recordings: one sentence naming every sound, with each phrase's
time segments, as AudioGrounding's metadata gives them.

A phrase is a short clause ("a drone buzzes", "a woman speaks"); the caption joins the
phrases in the order their sounds start ("while" when a sound overlaps the one before,
"then" when it follows it), and names background sounds last ("..., and in the background
a train passes"). Every phrase occurs in its
caption verbatim, and `parse` finds them again.
"""
from __future__ import annotations

import re

import numpy as np

# Per sound, the clauses that name it; {who} is "a man", "a woman" or "someone".
PHRASES: dict[str, tuple[str, ...]] = {
    "train": ("a train passes", "a train rumbles by"),
    "boat": ("a boat engine runs", "a motorboat putters"),
    "drone": ("a drone buzzes", "a drone hovers"),
    "fountain": ("a fountain splashes", "water gushes from a fountain"),
    "drill": ("a drill whirs", "a power drill spins"),
    "razor": ("an electric razor buzzes", "a shaver hums"),
    "hair_dryer": ("a hair dryer blows", "a hair dryer runs"),
    "hoover": ("a vacuum cleaner hums", "a hoover drones"),
    "shopping_cart": ("a shopping cart rattles", "a trolley clatters"),
    "traffic": ("traffic roars", "cars drive past"),
    "clapping": ("{who} claps", "{who} claps their hands"),
    "snapping_fingers": ("{who} snaps their fingers", "fingers snap"),
    "speaking": ("{who} speaks", "{who} talks"),
    "whistling": ("{who} whistles", "{who} whistles a tune"),
    "playing_kendama": ("{who} plays with a kendama", "a wooden ball clacks on a cup"),
    "clicking": ("{who} clicks a mouse", "a mouse clicks"),
    "typing": ("{who} types on a keyboard", "keys clatter"),
    "knocking": ("{who} knocks on a door", "knuckles rap on a door"),
    "hammering": ("{who} hammers a nail", "a hammer strikes"),
    "peanut_breaking": ("{who} cracks peanuts", "a peanut shell cracks"),
    "paper_ripping": ("{who} tears paper", "paper rips"),
    "plastic_crumpling": ("{who} crumples plastic", "plastic crinkles"),
    "paper_shaking": ("{who} shakes a sheet of paper", "paper rustles"),
    "stick_dropping": ("{who} drops a stick", "a stick clatters to the floor"),
}
WHO = ("a man", "a woman", "someone")
BACKGROUND = "in the background"


def phrase(rng: np.random.Generator, name: str, who: str = "someone") -> str:
    """A clause naming sound `name`, done by `who` (one of WHO) where a person does it."""
    if who not in WHO:
        raise ValueError(f"who must be one of {WHO}, got {who!r}")
    return str(rng.choice(PHRASES[name])).format(who=who)


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.any((a[:, None, 0] < b[None, :, 1]) & (b[None, :, 0] < a[:, None, 1])))


def compose(parts: list[tuple[str, np.ndarray, bool]]) -> str:
    """The caption of (phrase, its segments (K, 2), background?) parts: foreground phrases
    in the order they start, joined by "while" or "then", background ones last."""
    foreground = sorted((p for p in parts if not p[2]), key=lambda p: p[1][0, 0])
    background = [p for p in parts if p[2]]
    clauses = []
    for i, (text, segments, _) in enumerate(foreground):
        if i == 0:
            clauses.append(text)
        elif _overlaps(segments, foreground[i - 1][1]):
            clauses.append(f" while {text}")
        else:
            clauses.append(f", then {text}")
    caption = "".join(clauses)
    if background:
        heard = " and ".join(text for text, _, _ in background)
        caption += f", and {BACKGROUND} {heard}" if caption else f"{BACKGROUND}, {heard}"
    return caption[0].upper() + caption[1:] + "."


def _pattern() -> re.Pattern:
    texts = {template.format(who=who): name for name, templates in PHRASES.items()
             for template in templates for who in WHO}
    # Longest first, so "a man claps their hands" is found before "a man claps".
    alternatives = sorted(texts, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in alternatives), re.IGNORECASE), texts


_FINDER, _NAMES = _pattern()


def parse(caption: str) -> list[tuple[str, str]]:
    """(phrase, sound name) of every phrase in a caption, in the caption's order."""
    found = []
    for match in _FINDER.finditer(caption):
        text = match.group(0)
        text = text[0].lower() + text[1:] if match.start() == 0 else text
        found.append((text, _NAMES[text]))
    return found
