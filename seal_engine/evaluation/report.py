"""The bench's result table: one markdown file and one JSON file, written atomically.

Shared by every bench that compares variants (the Stable Diffusion bench here,
the toy-world bench in seal_engine/toyworld): build one `ReportRow` per variant
and call `write_report(rows, out_dir)`. The markdown is for people (the main
table, accuracy per attribute, timings); the JSON has the same summaries plus
every per-sample value, so any number in the table can be recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .bootstrap import Interval

REPORT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class MetricColumn:
    key: str
    title: str
    rate: bool = False  # a share of samples, shown as a percentage
    higher_is_better: bool = True

    @property
    def header(self) -> str:
        return f"{self.title} {'↑' if self.higher_is_better else '↓'}"


DEFAULT_COLUMNS: tuple[MetricColumn, ...] = (
    MetricColumn("identity", "identity (CLIP cos)"),
    MetricColumn("attribute_accuracy", "attribute acc."),
    MetricColumn("leakage", "bg leakage", rate=True, higher_is_better=False),
    MetricColumn("rigidity", "rigidity", rate=True, higher_is_better=False),
)
"""The paper's four columns (identity up, attribute accuracy kept, leakage and rigidity down)."""


@dataclass
class ReportRow:
    variant: str
    metrics: dict[str, Interval]  # column key -> estimate with CI and n
    per_attribute: dict[str, Interval] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)  # per-sample values (free-form dicts)
    timings: dict[str, float] = field(default_factory=dict)  # e.g. personalize_s, generate_s, per cell
    notes: list[str] = field(default_factory=list)


def format_cell(value: Optional[Interval], rate: bool) -> str:
    if value is None or value.estimate is None:
        return "n/a"

    def fmt(x: float) -> str:
        return f"{100 * x:.0f}%" if rate else f"{x:.3f}"

    ci = f" [{fmt(value.low)}, {fmt(value.high)}]" if value.low is not None and value.n > 1 else ""
    return f"{fmt(value.estimate)}{ci} (n={value.n})"


def markdown_table(rows: Sequence[ReportRow], columns: Sequence[MetricColumn] = DEFAULT_COLUMNS) -> str:
    head = "| variant | " + " | ".join(c.header for c in columns) + " |"
    sep = "|---|" + "---|" * len(columns)
    body = ["| " + r.variant + " | " + " | ".join(format_cell(r.metrics.get(c.key), c.rate) for c in columns) + " |"
            for r in rows]
    return "\n".join([head, sep, *body])


def render_markdown(rows: Sequence[ReportRow], *, title: str, meta: Optional[dict] = None,
                    columns: Sequence[MetricColumn] = DEFAULT_COLUMNS, extra_sections: Sequence[str] = ()) -> str:
    parts = [f"# {title}", ""]
    for key, value in (meta or {}).items():
        parts.append(f"- {key}: {value}")
    if meta:
        parts.append("")
    parts += [markdown_table(rows, columns), "",
              "Values: estimate [95% bootstrap CI] (n = scored samples)."]
    attrs = list(dict.fromkeys(a for r in rows for a in r.per_attribute))
    if attrs:
        parts += ["", "## Attribute accuracy per attribute", "",
                  "| variant | " + " | ".join(attrs) + " |", "|---|" + "---|" * len(attrs)]
        for r in rows:
            parts.append("| " + r.variant + " | "
                         + " | ".join(format_cell(r.per_attribute.get(a), False) for a in attrs) + " |")
    timing_keys = list(dict.fromkeys(k for r in rows for k in r.timings))
    if timing_keys:
        parts += ["", "## Run time (seconds)", "", "| variant | " + " | ".join(timing_keys) + " |",
                  "|---|" + "---|" * len(timing_keys)]
        for r in rows:
            parts.append("| " + r.variant + " | "
                         + " | ".join(f"{r.timings[k]:.1f}" if k in r.timings else "" for k in timing_keys) + " |")
    for section in extra_sections:
        parts += ["", section.rstrip()]
    notes = [f"- {r.variant}: {n}" for r in rows for n in r.notes]
    if notes:
        parts += ["", "## Notes", "", *notes]
    return "\n".join(parts) + "\n"


def report_dict(rows: Sequence[ReportRow], *, title: str, meta: Optional[dict] = None,
                columns: Sequence[MetricColumn] = DEFAULT_COLUMNS) -> dict[str, Any]:
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "title": title,
        "meta": meta or {},
        "columns": [{"key": c.key, "title": c.title, "rate": c.rate, "higher_is_better": c.higher_is_better}
                    for c in columns],
        "variants": [
            {
                "variant": r.variant,
                "metrics": {k: v.to_dict() for k, v in r.metrics.items()},
                "per_attribute": {k: v.to_dict() for k, v in r.per_attribute.items()},
                "timings": r.timings,
                "notes": r.notes,
                "samples": r.samples,
            }
            for r in rows
        ],
    }


def write_report(rows: Sequence[ReportRow], out_dir: str | Path, *, title: str = "SEAL bench",
                 meta: Optional[dict] = None, columns: Sequence[MetricColumn] = DEFAULT_COLUMNS,
                 stem: str = "results", extra_sections: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write OUT/<stem>.md and OUT/<stem>.json atomically; returns both paths.

    `extra_sections` are markdown blocks appended after the tables (e.g. a timing table).
    """
    from ..atomic import atomic_write_json, atomic_write_text

    out = Path(out_dir)
    md, js = out / f"{stem}.md", out / f"{stem}.json"
    atomic_write_json(js, report_dict(rows, title=title, meta=meta, columns=columns))
    atomic_write_text(md, render_markdown(rows, title=title, meta=meta, columns=columns,
                                               extra_sections=extra_sections))
    return md, js
