"""`duet ask --shift` (the JSON schema the README documents) and `duet run --shift` (the reports)."""

import json
import re

from tests.support.duet_process import run_duet

CLASSES = {"unshifted", "marginal", "shifted"}
SHIFT_KEYS = {"scored_by", "retokenized", "context_mode", "summary", "tokens", "most_shifted", "caveat", "relation"}


def check_shift_schema(shift: dict, pane_by_role: dict, answer: str) -> None:
    """The `shift` object exactly as README.md ("The token-shift lens") documents it."""
    assert set(shift) == SHIFT_KEYS
    assert isinstance(shift["scored_by"], str) and isinstance(shift["retokenized"], bool)
    assert shift["caveat"] is None or isinstance(shift["caveat"], str)
    assert shift["relation"] is None or isinstance(shift["relation"], str)  # a Duet fine-tune and its source
    summary = shift["summary"]
    assert set(summary) == {"count", *CLASSES}
    assert summary["count"] == len(shift["tokens"]) > 0
    assert abs(sum(summary[c] for c in CLASSES) - 100) < 0.05
    for token in shift["tokens"]:
        assert set(token) == {"text", "rank", "p", "class", "top"}
        assert isinstance(token["text"], str) and isinstance(token["rank"], int) and token["rank"] >= 1
        assert 0.0 <= token["p"] <= 1.0
        assert token["class"] == (
            "unshifted" if token["rank"] == 1 else "marginal" if token["rank"] <= 3 else "shifted"
        )
        assert 1 <= len(token["top"]) <= 5
        assert all(set(t) == {"text", "p"} and 0.0 <= t["p"] <= 1.0 for t in token["top"])
        assert [t["p"] for t in token["top"]] == sorted((t["p"] for t in token["top"]), reverse=True)
        assert token["p"] <= token["top"][0]["p"] + 1e-9  # nothing beats the scoring model's first choice
    counted = {c: 100 * sum(t["class"] == c for t in shift["tokens"]) / summary["count"] for c in CLASSES}
    assert all(abs(counted[c] - summary[c]) < 0.01 for c in CLASSES)
    for entry in shift["most_shifted"]:
        assert set(entry) == {"text", "count", "mean_rank"} and entry["count"] >= 1 and entry["mean_rank"] > 3
    # The token texts cover the answer exactly, re-tokenized or not.
    assert "".join(t["text"] for t in shift["tokens"]) == answer


def test_ask_shift_json_follows_the_documented_schema(tmp_path):
    result = run_duet(
        "ask",
        "Tell me how to train my dog to sit",
        "--max-tokens",
        "24",
        "--json",
        "--shift",
        "--no-save",
        env={"DUET_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    panes = json.loads(result.stdout)["panes"]
    by_role = {p["role"]: p for p in panes}
    assert set(by_role) == {"base", "chat"}
    # Who scores whom: the chat answer by the base model (in the base pane's mode), and back.
    chat_shift, base_shift = by_role["chat"]["shift"], by_role["base"]["shift"]
    assert chat_shift["scored_by"] == by_role["base"]["model"] and chat_shift["context_mode"] == by_role["base"]["mode"]
    assert base_shift["scored_by"] == by_role["chat"]["model"] and base_shift["context_mode"] == by_role["chat"]["mode"]
    for pane in panes:
        check_shift_schema(pane["shift"], by_role, pane["text"])
        # The embedded pair: two families, two tokenizers.
        assert pane["shift"]["retokenized"] is True and "different" in pane["shift"]["caveat"]


def test_ask_shift_text_output_has_a_summary_per_pane(tmp_path):
    result = run_duet(
        "ask", "Count: 1, 2, 3,", "--max-tokens", "8", "--shift", "--no-save", env={"DUET_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if " lens: " in line]
    assert [line.split(" lens: ")[0] for line in lines] == ["base", "chat"]
    assert all(re.search(r"unshifted \d+% · marginal \d+% · shifted \d+% of \d+ tokens · scored by ", x) for x in lines)


def test_run_shift_adds_summaries_and_the_aggregate_table(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Tell me how to train my dog to sit\nCount: 1, 2, 3,\n")
    jsonl = tmp_path / "runs.jsonl"
    reports = {}
    for suffix in ("md", "html"):
        report = tmp_path / f"report.{suffix}"
        args = ["run", str(prompts), "--max-tokens", "16", "--shift", "--no-save", "--report", str(report)]
        result = run_duet(
            *args, *(["--jsonl", str(jsonl)] if suffix == "md" else []), env={"DUET_DATA_DIR": str(tmp_path)}
        )
        assert result.returncode == 0, result.stderr
        reports[suffix] = report.read_text()
    items = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(items) == 2
    for item in items:
        by_role = {p["role"]: p for p in item["panes"]}
        for pane in item["panes"]:
            check_shift_schema(pane["shift"], by_role, pane["text"])
    md = reports["md"]
    assert "## Token shift" in md and "unshifted %" in md
    table = md.split("## Token shift", 1)[1].split("\n## ", 1)[0]
    # One aggregate row per pane whose percentages are the token-weighted mean over both prompts.
    for role in ("base", "chat"):
        tokens = [t for item in items for p in item["panes"] if p["role"] == role for t in p["shift"]["tokens"]]
        shifted = 100 * sum(t["class"] == "shifted" for t in tokens) / len(tokens)
        row = next(line for line in table.splitlines() if line.startswith(f"| {role} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3] == str(len(tokens)) and cells[6] == f"{shifted:.1f}"
    assert md.count("> Lens: unshifted") == 4  # each prompt's summary, for each pane
    html = reports["html"]
    assert "<h2>Token shift</h2>" in html and 'class="meta legend"' in html
    shifted_spans = re.findall(r'<span class="tok-shifted" title="shifted: rank (\d+)', html)
    expected = sum(t["class"] == "shifted" for item in items for p in item["panes"] for t in p["shift"]["tokens"])
    assert len(shifted_spans) == expected and all(int(rank) > 3 for rank in shifted_spans)
