"""Rebuild ``detectors/code/language_model.npz`` from the corpus in ``language_corpus.py``.

    .venv/bin/python -m bench.train_language_model          # train + dev sources -> the model file
    .venv/bin/python -m bench.train_language_model --dev    # train sources only, report dev accuracy

The corpus is the "train" (and, for the final model, "dev") part of ``bench/language_corpus.py``:
Debian packages and installed files, and hand-written snippets; nothing from code hosts. Training
snippets are windows of 3, 6, 10 and 20 lines cut from each file, up to ``PER_LANGUAGE`` per
language; hand-written snippets are few, so each is first copied with its own names replaced by
random ones (``renamed_variants``). The model is a multinomial logistic regression (scikit-learn,
training only) over the hashed features of ``detectors.code.language_model``. Weights are
quantised to int8 per class for a small file; the runtime needs only numpy.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from bench.language_corpus import files, renamed_variants, snippets, without_fenced_code
from detectors.code.detector import CodeDetector
from detectors.code.language_model import (
    BUCKETS,
    MODEL_PATH,
    NOT_CODE,
    LanguageModel,
    feature_vector,
)

WINDOWS = ((3, 2), (6, 2), (10, 3), (20, 2))  # (lines, windows per file)
PER_LANGUAGE = 12000
VARIANTS = 900  # renamed copies of each language's hand-written snippets (about half a language's windows)


def training_snippets(splits: tuple[str, ...], per_language: int = PER_LANGUAGE) -> dict[str, list[str]]:
    rng = random.Random(5)
    by_language: dict[str, list[str]] = defaultdict(list)
    hand_written: dict[str, list[str]] = defaultdict(list)
    installed: dict[str, list[str]] = defaultdict(list)
    for item in (item for split in splits for item in files(split)):
        if not item.source.final:  # measured, never trained on
            continue
        language = item.source.language
        if item.source.samples:
            hand_written[language].append(item.text)
        else:
            installed[language].append(without_fenced_code(item.text) if language == NOT_CODE else item.text)
    for language, texts in installed.items():
        # languages with few installed files take more windows from each, so that every language
        # reaches ``per_language`` windows before the cut below
        scale = math.ceil(per_language / (len(texts) * sum(limit for _, limit in WINDOWS)))
        for text in texts:
            for lines, limit in WINDOWS:
                by_language[language].extend(snippets(text, lines, rng, limit * scale))
    for language, written in hand_written.items():
        for text in written + renamed_variants(written, VARIANTS, rng):
            for lines, limit in WINDOWS:
                by_language[language].extend(snippets(text, lines, rng, limit))
    for language, items in by_language.items():
        rng.shuffle(items)
        del items[per_language:]
    return by_language


def evaluate(weights: np.ndarray, scales: np.ndarray, bias: np.ndarray, classes: list[str]) -> None:
    """Accuracy on 10-line windows of the "dev" sources, cut as ``bench/code_detection.py`` cuts the test ones,
    and how often ``CodeDetector`` reports code in the dev prose and finds it in the dev code."""
    model = LanguageModel(weights, scales, bias, classes)
    detector = CodeDetector(model=model)
    code_classes = set(classes) - {NOT_CODE}
    total, right, found, confusions = Counter(), Counter(), Counter(), Counter()
    for item in files("dev"):
        language = item.source.language
        text = without_fenced_code(item.text) if language == NOT_CODE else item.text
        for snippet in snippets(text, 10, random.Random(item.path), 3):
            guess = model.predict(snippet, allowed=None if language == NOT_CODE else code_classes).language
            total[language] += 1
            right[language] += guess == language
            found[language] += bool(detector.scan(snippet))
            confusions[(language, guess)] += guess != language
    for language in sorted(total):
        print(f"dev {language:12s} {total[language]:5d} windows {right[language] / total[language]:6.1%}"
              f"  CodeDetector finds code {found[language] / total[language]:6.1%}")
    code = [language for language in total if language != NOT_CODE]
    micro = sum(right[lang] for lang in code) / sum(total[lang] for lang in code)
    macro = sum(right[lang] / total[lang] for lang in code) / len(code)
    code_found = sum(found[lang] for lang in code) / sum(total[lang] for lang in code)
    print(f"dev code: micro {micro:.1%}, macro-lang {macro:.1%}, CodeDetector finds code {code_found:.1%}")
    print("dev confusions:", ", ".join(f"{a}->{b} {n}" for (a, b), n in confusions.most_common(12) if n))


def matrix(texts: list[str]) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for row, text in enumerate(texts):
        indices, values = feature_vector(text)
        rows.append(np.full(len(indices), row))
        cols.append(indices)
        vals.append(values)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(texts), BUCKETS)
    )


def quantise(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scales = np.abs(coef).max(axis=1) / 127.0
    weights = np.round(coef / scales[:, None]).astype(np.int8)
    return weights.T.copy(), scales.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help=f"where to write the model (default {MODEL_PATH}; with --dev, nowhere)")
    parser.add_argument("--C", type=float, default=20.0)
    parser.add_argument("--per-language", type=int, default=PER_LANGUAGE, help="training windows per language")
    parser.add_argument("--balanced", action="store_true", help="weigh every language equally however many windows it has")
    parser.add_argument("--dev", action="store_true",
                        help="train on the train sources only and report accuracy on the dev sources")
    args = parser.parse_args()
    started = time.perf_counter()
    by_language = training_snippets(("train",) if args.dev else ("train", "dev"), args.per_language)
    classes = sorted(by_language)
    texts = [t for c in classes for t in by_language[c]]
    labels = np.array([i for i, c in enumerate(classes) for _ in by_language[c]])
    for c in classes:
        print(f"{c:12s} {len(by_language[c]):6d} snippets")
    x = matrix(texts)
    print(f"features built in {time.perf_counter() - started:.1f}s; training on {x.shape[0]} snippets")
    model = LogisticRegression(C=args.C, max_iter=300, class_weight="balanced" if args.balanced else None)
    model.fit(x, labels)
    weights, scales = quantise(model.coef_)
    if args.dev:
        evaluate(weights, scales, model.intercept_.astype(np.float32), classes)
    out = args.out or (None if args.dev else MODEL_PATH)
    if out is None:
        return
    np.savez_compressed(
        out, weights=weights, scales=scales, bias=model.intercept_.astype(np.float32), classes=np.array(classes)
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
