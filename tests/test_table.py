"""ltbound._table.format_table: the one formatter of the project's text tables."""
import pytest

from ltbound._table import display_width, format_table


def test_columns_align_left_or_right_with_a_rule_under_the_header():
    out = format_table([["ib", "0.5"], ["switching", "12.25"]], ["schedule", "total"], align="lr")
    assert out.split("\n") == ["schedule   total",
                               "---------  -----",
                               "ib           0.5",
                               "switching  12.25"]


def test_combining_hats_take_no_column():
    assert display_width("2·R̂") == 3
    out = format_table([["x"]], ["2·R̂"])
    assert out.split("\n")[1] == "---"


def test_min_widths_rstrip_indent_and_a_rule_above_the_total():
    out = format_table([["a", "1"], ["total", "3"]], ["term", "value"], align="lr", indent="  ", rstrip=True,
                       rule_before=(1,), min_widths=(6,))
    assert out.split("\n") == ["  term    value",
                               "  ------  -----",
                               "  a           1",
                               "  ------  -----",
                               "  total       3"]


def test_fixed_widths_wrap_long_cells_and_rows_get_a_gap():
    out = format_table([["one two three", "x"]], ["claim", "v"], widths=(7, 1), rstrip=True, row_gap=True)
    assert out.split("\n") == ["claim    v", "-------  -", "one two  x", "three", ""]


def test_no_header_no_rule_and_markdown():
    assert format_table([["1", "2"]], align="r", sep=" ", rule=None, min_widths=(3, 3)) == "  1   2"
    assert format_table([["a", "b"]], ["x", "y"], style="markdown") == "| x | y |\n|---|---|\n| a | b |"
    with pytest.raises(ValueError, match="style"):
        format_table([["a"]], style="html")
