from hypothesis import given
from hypothesis import strategies as st

from disclosure import names

TRADE = st.text(alphabet="鸿达金海顺发南粤福临宏图恒昌嘉和", min_size=2, max_size=6)
FORMS = st.sampled_from(["", *names.SUFFIXES])
LEADING = st.sampled_from(["", "湛江市", "赤坎区", "广东省", "湛江市赤坎区", "广东省湛江市"])


def test_spellings_of_one_company_share_a_key() -> None:
    spellings = [
        "湛江市赤坎区鸿达食品有限公司",
        "鸿达食品有限责任公司",
        "鴻達食品股份有限公司",  # traditional characters
        "鸿达食品公司",
        "湛江鸿达食品（赤坎）有限公司",  # the district in full-width brackets
        "【赤坎】鸿达食品",
        "〔湛江市〕 鸿达 食品",
        "鸿达食品有限公司\u3000",  # an ideographic space
    ]
    assert {names.normalise(name) for name in spellings} == {"鸿达食品"}


def test_full_width_letters_fold_and_other_brackets_keep_their_words() -> None:
    assert names.normalise("ＡＢＣ鸿达食品有限公司") == "abc鸿达食品"
    assert names.normalise("鸿达（中国）食品有限公司") == "鸿达中国食品"


def test_a_name_that_is_only_a_form_or_a_region_keeps_it() -> None:
    assert names.normalise("有限公司") == "有限公司"
    assert names.normalise("湛江市") == "湛江市"
    assert names.normalise("赤坎区陈记海鲜大排档") == "陈记海鲜大排档"


def test_tokens_are_the_bigrams_of_the_key() -> None:
    assert names.tokens("湛江市鸿达食品有限公司") == ["鸿达", "达食", "食品"]
    assert names.tokens("ABC鸿达") == ["abc", "鸿达"]


def test_similarity_keeps_a_typo_close_and_a_shared_trade_name_apart() -> None:
    assert names.similarity("鸿达食品", "鸿达食品") == 1.0
    assert names.similarity("鸿达食品", "鸿迖食品") == 0.75  # one character
    assert names.similarity("鸿达食品", "鸿达物流") == 0.25  # the trade name only
    assert names.similarity("鸿达食品", "鸿达金海食品") == 0.5
    assert names.distance("kitten", "sitting") == 3


@given(TRADE, FORMS, LEADING, st.booleans())
def test_key_ignores_region_form_and_script(
    trade: str, form: str, leading: str, traditional: bool
) -> None:
    name = f"{leading}{trade}食品{form}"
    key = names.normalise(f"{trade}食品")
    assert names.normalise(name) == key
    if traditional:
        assert names.normalise(name.replace("鸿", "鴻").replace("达", "達")) == key


@given(st.text(max_size=30))
def test_normalise_is_idempotent_and_total(text: str) -> None:
    key = names.normalise(text)
    assert names.normalise(key) == key
    assert 0.0 <= names.similarity(key, names.normalise(text[::-1])) <= 1.0


@given(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12))
def test_distance_is_a_metric(a: str, b: str) -> None:
    assert names.distance(a, b) == names.distance(b, a)
    assert (names.distance(a, b) == 0) == (a == b)
    assert names.distance(a, b) <= max(len(a), len(b))
