"""Seeded train/validation/test splits that never leak an evaluated example into training.

Sentence pairs are split by connected component of the pair graph: two pairs are
connected when they share their source or their target sentence, so every translation
of a sentence, and every sentence translated the same way, lands in one split.

Example:
    >>> pair_components([("Hi.", "Hola."), ("Hello.", "Hola."), ("Go.", "Ve.")])
    [[0, 1], [2]]
"""

from __future__ import annotations

import random


def pair_components(pairs: list[tuple[str, str]]) -> list[list[int]]:
    """Indices of ``pairs`` grouped by connected component of the pair graph.

    Returns:
        The components in order of their first pair; indices ascend within each.
    """
    parent: dict[tuple[int, str], tuple[int, str]] = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for source, target in pairs:
        a, b = root((0, source)), root((1, target))
        if a != b:
            parent[a] = b
    components: dict[tuple[int, str], list[int]] = {}
    for index, (source, _) in enumerate(pairs):
        components.setdefault(root((0, source)), []).append(index)
    return list(components.values())


def split_groups(
    groups: list[list[int]], seed: int, validation: float, test: float
) -> dict[str, list[int]]:
    """A seeded shuffle of whole groups, cut so that validation and test each hold about
    their share of the items (at least one group each when there are three or more).

    Returns:
        ``{"train", "validation", "test"}`` -> sorted item indices.
    """
    order = list(groups)
    random.Random(seed).shuffle(order)
    total = sum(len(group) for group in order)
    splits: dict[str, list[int]] = {"validation": [], "test": [], "train": []}
    for group in order:
        if not splits["validation"] or len(splits["validation"]) < validation * total:
            splits["validation"] += group
        elif not splits["test"] or len(splits["test"]) < test * total:
            splits["test"] += group
        else:
            splits["train"] += group
    return {split: sorted(indices) for split, indices in splits.items()}
