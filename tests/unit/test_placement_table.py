"""The README's table of the catalog pairs on 6, 8, 12 and 24 GB GPUs is the planner's output."""

from pathlib import Path

from benchmarks.placement_table import END, START, replace_table, table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_what_the_planner_makes_now():
    text = README.read_text()
    assert replace_table(text, table()) == text, "run: python -m benchmarks.placement_table --write README.md"


def test_every_catalog_pair_has_a_row_and_a_7b_pair_is_split_on_small_gpus():
    made = table()
    rows = {line.split("|")[1].strip(" `"): line for line in made.splitlines()[2:]}
    assert {"embedded", "smollm2-135m", "llama-2-7b"} <= set(rows)
    cells = [c.strip() for c in rows["llama-2-7b"].split("|")[2:6]]
    assert not cells[0].startswith("33/33") and cells[3].startswith("33/33 + 33/33")
    assert "?" not in made


def test_replacing_keeps_the_text_around_the_markers():
    text = f"before\n{START}\nold\n{END}\nafter\n"
    assert replace_table(text, "new") == f"before\n{START}\nnew\n{END}\nafter\n"
