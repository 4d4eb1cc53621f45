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


def test_readme_torch_model_example_runs():
    """The 'bounds for your own torch model' example, as written (digits, a few seconds)."""
    import torch

    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
              if "bounds_for_model" in b]
    assert len(blocks) == 1, "README has no bounds_for_model example"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)               # the test machine's cores are shared with other jobs
    try:
        namespace: dict = {}
        exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    finally:
        torch.set_num_threads(threads)
    report = namespace["report"]
    assert report.theta_index == 0 and report.num_params == 9
    assert report.condition <= 0 and report.sampling.total > report.ib.total
    # the model's own clipped training loss is the Eq. 6 objective
    assert 0 < report.ib.term("objective").value < 5.0


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_command():
    text = README.read_text()
    bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert bash[0].strip() == 'pip install -e ".[all]" && python experiments/compare_bounds.py'
    assert bash[1].strip() == 'pip install -e ".[dev]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]"' in ci and "python3 -m pytest" in ci


def test_readme_schedule_sampler_example_runs_and_switches():
    """The 'Switching in your own training loop' example, as written: IB epochs draw every
    example once, CR epochs draw the tail most (the phase follows set_epoch)."""
    import numpy as np
    import torch

    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
              if "ScheduleSampler" in b]
    assert len(blocks) == 1, "README has no ScheduleSampler example"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        namespace: dict = {}
        exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    finally:
        torch.set_num_threads(threads)
    sampler, ds = namespace["sampler"], namespace["ds"]
    labels = ds.train.labels.numpy()
    counts = np.bincount(labels, minlength=10)
    ib = np.bincount(labels[sampler.rank_indices(3).numpy()], minlength=10)
    cr = np.bincount(labels[sampler.rank_indices(4).numpy()], minlength=10)
    np.testing.assert_array_equal(ib, counts)
    assert cr[counts.argmin()] > cr[counts.argmax()]
    assert all(torch.isfinite(p).all() for p in namespace["model"].parameters())


def test_every_number_of_the_findings_in_brief_is_in_the_long_form():
    """README's findings in brief repeat numbers; each one must stand in docs/*.md, where the tests
    that recompute documented numbers read it (so the brief cannot drift on its own)."""
    from tests._docs import DOCS
    brief = README.read_text().split("## Main findings in brief")[1].split("\n## ")[0]
    long_form = " ".join("\n".join(p.read_text() for p in sorted(DOCS.glob("*.md"))).split())
    numbers = re.findall(r"\d+(?:[.,/]\d+)*(?:e-\d+)?%?", brief)
    assert len(numbers) > 20
    missing = sorted({n for n in numbers if n not in long_form})
    assert not missing, f"numbers of README's findings in brief that docs/*.md does not hold: {missing}"
