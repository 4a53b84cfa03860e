"""Streamed answers decode each token with vocabulary.token_piece, which keeps pieces of any length:
llama-cpp-python's detokenize reads pieces into a 32-byte buffer and garbles longer ones."""

from models.engines.llama.runtime import llama_cpp
from models.engines.llama.vocabulary import token_piece, token_pieces


def test_a_piece_longer_than_32_bytes_comes_out_whole(chat_path):
    llama = llama_cpp().Llama(model_path=str(chat_path), n_ctx=256, vocab_only=True, verbose=False)
    pieces = token_pieces(llama, list(range(llama.n_vocab())))
    longest = max(range(len(pieces)), key=lambda t: len(pieces[t]))
    assert len(pieces[longest]) > 32  # SmolLM2 has pieces of up to 162 bytes
    assert token_piece(llama, longest) == pieces[longest]
    # What the streamed answer would have shown with detokenize: not the token's text.
    assert llama.detokenize([longest]) != pieces[longest]
    # The piece really is the token's text: tokenizing it gives the token back.
    assert llama.tokenize(pieces[longest], add_bos=False, special=False) == [longest]
