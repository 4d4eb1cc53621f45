"""The README's API example runs as written, and its two set-up commands are the ones CI uses."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_api_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    report = namespace["report"]
    assert report.condition <= 0 and report.sampling.total > report.ib.total


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_command():
    text = README.read_text()
    bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert bash[0].strip() == 'pip install -e ".[all]" && python experiments/compare_bounds.py'
    assert bash[1].strip() == 'pip install -e ".[dev]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]"' in ci and "python3 -m pytest" in ci
