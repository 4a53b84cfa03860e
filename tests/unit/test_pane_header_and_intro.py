"""The pane header's order of what is dropped when a pane is narrow, and the pane intros' wording."""

from models.files.describe import BASE_KIND, CHAT_KIND, describe_pane, pair_caveat
from models.files.info import ModelInfo
from tui.widgets.pane_header import DETAILS, MODEL, NEVER, PLACEMENT, Piece, fit
from tui.widgets.turns import collapse

PIECES = [
    Piece("BASE", "bold", NEVER),
    Piece("Llama-2-7B-Chat-GGUF", "", MODEL, shrinkable=True),
    Piece("7B · Q4_K_M", "dim", DETAILS, lead=" · "),
    Piece("mode ", "dim", NEVER),
    Piece("chat", "bold", NEVER, lead=""),
    Piece("GPU 33/33 layers", "dim", PLACEMENT),
]


def test_wide_pane_shows_everything_in_order():
    assert fit(PIECES, 200).plain == "BASE  Llama-2-7B-Chat-GGUF · 7B · Q4_K_M  mode chat  GPU 33/33 layers"


def test_details_go_first_then_placement_then_the_name_shrinks():
    assert fit(PIECES, 60).plain == "BASE  Llama-2-7B-Chat-GGUF  mode chat  GPU 33/33 layers"
    assert fit(PIECES, 50).plain == "BASE  Llama-2-7B-Cha…  mode chat  GPU 33/33 layers"  # the name shrinks first
    narrow = fit(PIECES, 30).plain  # then the placement goes, and the name shrinks further
    assert narrow == "BASE  Llama-2-7B-C…  mode chat" and len(narrow) == 30
    assert fit(PIECES, 10).plain.startswith("BASE") and "mode chat" in fit(PIECES, 10).plain


def info(**values) -> ModelInfo:
    base = dict(
        path="/m.gguf",
        label="m",
        architecture="llama",
        name="M",
        size_label=None,
        quantization=None,
        context_length=None,
        n_layers=None,
        has_chat_template=False,
        file_size=1,
    )
    return ModelInfo(**{**base, **values})


def test_intros_come_from_the_catalog_or_the_metadata():
    assert describe_pane("embedded:gemma-3-270m", None).title == "Gemma 3 270M (pretrained base, Q4_K_M)"
    assert describe_pane("embedded:gemma-3-270m", None).kind == BASE_KIND
    assert describe_pane("llama-2-7b/chat", None).kind == CHAT_KIND  # a catalog pair's chat side
    assert describe_pane("/x/my.gguf", info(has_chat_template=True)).kind == CHAT_KIND
    assert describe_pane("/x/my.gguf", info(has_chat_template=False)).kind == BASE_KIND
    served = describe_pane("http://127.0.0.1:8080/v1#m", info(architecture="remote", path="http://127.0.0.1:8080/v1"))
    assert "127.0.0.1:8080" in served.kind


def test_the_caveat_names_two_different_families_only():
    assert "different model families (gemma3 and llama)" in pair_caveat(info(architecture="gemma3"), info())
    assert pair_caveat(info(), info()) is None
    assert pair_caveat(info(), None) is None


def test_collapse_counts_lines_and_characters():
    assert collapse("a\nb\nc\n", 2, 100) == ("a\nb", 1)
    assert collapse("short", 6, 600) == ("short", 0)
    shown, hidden = collapse("y" * 1000, 6, 600)
    assert shown == "y" * 600 and hidden == 0


def test_the_echo_points_at_nothing_for_a_trailing_newline_and_counts_in_the_singular():
    from tui.widgets.turns import UserTurn

    assert str(UserTurn("Tell me how to train my dog to sit\n").content) == "› Tell me how to train my dog to sit"
    cut = str(UserTurn("y" * (UserTurn.MAX_CHARS + 1)).content)
    assert cut.endswith("… 1 more character (F3 shows the whole prompt)")
