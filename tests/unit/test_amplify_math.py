"""The amplification arithmetic without a model: the combination, KL and the raised tokens, the
sampling of combined logits, the keys' steps and labels, the records."""

from __future__ import annotations

import numpy as np
import pytest

from models.amplify.mix import combine, push_of
from models.amplify.records import amplify_record, record_label, stored
from models.amplify.sampling import Sampler
from models.amplify.steps import STEPS, label, stepped, warning
from models.amplify.trace import build_trace
from models.settings import AdapterSpec, AmplifySpec, SamplingSettings


def rows():
    rng = np.random.default_rng(0)
    return rng.normal(size=64).astype(np.float32), rng.normal(size=64).astype(np.float32)


def test_zero_and_minus_one_are_the_two_rows_themselves_and_two_pushes_the_difference():
    tuned, base = rows()
    assert combine(tuned, base, 0.0) is tuned and combine(tuned, base, -1.0) is base
    np.testing.assert_allclose(combine(tuned, base, 2.0), tuned + 2 * (tuned - base), rtol=1e-6)


def test_kl_is_zero_for_one_model_and_the_raised_tokens_are_ranked():
    tuned, base = rows()
    same = push_of(tuned, tuned + 3.0, chosen=0)  # an offset changes nothing
    assert same.kl == pytest.approx(0.0, abs=1e-9) and same.chosen_raise == pytest.approx(0.0, abs=1e-6)
    pushed = tuned.copy()
    pushed[5] += 4.0
    step = push_of(pushed, tuned, chosen=5)
    assert step.kl > 0 and step.top_ids[0] == 5 and step.top_raise == tuple(sorted(step.top_raise, reverse=True))
    assert step.chosen_raise == pytest.approx(step.top_raise[0])


def test_greedy_takes_the_first_of_equals_and_sampling_follows_its_seed():
    logits = np.array([1.0, 3.0, 3.0, 0.0], dtype=np.float32)
    assert Sampler(SamplingSettings()).choose(logits, []) == 1
    hot = SamplingSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=3)
    draws = [Sampler(hot).choose(rows()[0], []) for _ in range(3)]
    assert len(set(draws)) == 1  # the same seed, the same token
    assert len({Sampler(hot.model_copy(update={"seed": s})).choose(rows()[0], []) for s in range(40)}) > 3
    penalized = SamplingSettings(repeat_penalty=10.0)
    assert Sampler(penalized).choose(logits, [1]) == 2  # the repeated token is pushed down


def test_top_k_top_p_and_min_p_keep_only_likely_tokens():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    only_one = SamplingSettings(temperature=1.0, top_k=1)
    assert {Sampler(only_one.model_copy(update={"seed": s})).choose(logits, []) for s in range(20)} == {0}
    nucleus = SamplingSettings(temperature=1.0, top_k=0, top_p=0.7, min_p=0.0)
    assert {Sampler(nucleus.model_copy(update={"seed": s})).choose(logits, []) for s in range(60)} == {0, 1}
    floor = SamplingSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.5)
    assert {Sampler(floor.model_copy(update={"seed": s})).choose(logits, []) for s in range(60)} == {0, 1}


@pytest.mark.parametrize(
    ("factor", "up", "down"),
    [(-1.0, 0.0, -1.0), (0.0, 0.5, -1.0), (1.0, 2.0, 0.5), (3.0, 4.0, 2.0), (8.0, 8.0, 4.0)],
)
def test_the_keys_step_through_the_steps(factor, up, down):
    assert stepped(factor, +1) == up and stepped(factor, -1) == down
    assert STEPS == (-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0)


def test_labels_and_the_warning_above_four():
    assert label(2.0, "gemma-3-270m") == "amplified ×2 over gemma-3-270m"
    assert warning(4.0) is None and warning(8.0) == "×8: text may break down"


def test_records_carry_a_and_both_models_and_the_history_keeps_no_pushes():
    lora = AdapterSpec(source="style.gguf", scale=0.5)
    step = push_of(*rows(), chosen=2)
    trace = build_trace(2.0, ("tuned", "base"), [2], [step], lambda ids: [f"t{i}" for i in ids])
    record = amplify_record(AmplifySpec(base="embedded:x", factor=2.0), "embedded:x", (lora,), trace)
    assert record is not None
    assert record["tuned"]["adapters"] == [{"source": "style.gguf", "scale": 0.5}]
    assert record["base"] == {"source": "embedded:x", "adapters": []}
    assert record["pushes"]["tokens"] == [
        {"text": "t2", "kl": round(step.kl, 5), "raised": round(step.chosen_raise, 4)}
    ]
    assert "pushes" not in stored(record) and record_label(record) == "amplified ×2 over x"
    assert amplify_record(None, "embedded:x", ()) is None and record_label({"factor": "x"}) == ""
