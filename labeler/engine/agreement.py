"""Agreement figures between annotators, from the engine's measures."""

from __future__ import annotations

MIN_SHARED_ITEMS = 5


def agreement_figures(
    answers: dict[int, list[tuple[str, str]]], resolved: dict[int, str], overlap: int
) -> dict:
    """Agreement from each item's current answers ``{item: [(annotator, label), ...]}``.

    Returns Fleiss' kappa over the items with ``overlap`` answers, Cohen's kappa for each pair
    of annotators sharing at least ``MIN_SHARED_ITEMS`` items, and each annotator's rate of
    agreement with the resolved (consensus or adjudicated) label."""
    from learning.agreement import cohens_kappa, fleiss_kappa, rating_counts

    full = [labels for labels in answers.values() if len(labels) == overlap]
    classes = sorted({label for labels in answers.values() for _, label in labels})
    fleiss = None
    if overlap >= 2 and len(full) >= 2:
        fleiss = fleiss_kappa(rating_counts([[lab for _, lab in row] for row in full], classes))

    by_annotator: dict[str, dict[int, str]] = {}
    for item_id, labels in answers.items():
        for annotator, label in labels:
            by_annotator.setdefault(annotator, {})[item_id] = label
    pairs = []
    names = sorted(by_annotator)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = sorted(set(by_annotator[first]) & set(by_annotator[second]))
            if len(shared) >= MIN_SHARED_ITEMS:
                a = [by_annotator[first][item] for item in shared]
                b = [by_annotator[second][item] for item in shared]
                pairs.append(
                    {
                        "annotators": [first, second],
                        "items": len(shared),
                        "cohen_kappa": cohens_kappa(a, b),
                    }
                )
    versus_consensus = []
    for name in names:
        judged = [item for item in by_annotator[name] if item in resolved]
        if judged:
            agree = sum(by_annotator[name][item] == resolved[item] for item in judged)
            versus_consensus.append(
                {"annotator": name, "items": len(judged), "agreement": agree / len(judged)}
            )
    return {"fleiss_kappa": fleiss, "pairs": pairs, "versus_consensus": versus_consensus}
