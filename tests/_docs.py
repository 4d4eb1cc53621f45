"""The project's documentation as one text, for tests that check documented numbers.

README.md keeps the commands, the examples and the findings in brief; the long sections with
their numbers live in docs/*.md. A documented number is checked wherever it is written.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def documentation() -> str:
    """README.md followed by every docs/*.md page (sorted by name), separated by blank lines."""
    return "\n\n".join(p.read_text() for p in [README, *sorted(DOCS.glob("*.md"))])
