"""Helpers of the operations tests: parse /metrics, read JSON log lines."""

import json
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def parse_metrics(
    text: str,
) -> tuple[set[str], dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """(family names, {(sample name, labels): value}) of a Prometheus text exposition."""
    families: set[str] = set()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return families, samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict[Any, float], name: str, **labels: str) -> float:
    """Sum over every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines
