"""The feedback classifier's pure core: language, category, sentiment, urgency, evidence, config, corrections."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.feedback.classifier import Classifier
from agents.feedback.config import default_dir
from agents.feedback.datasets import DATA
from agents.feedback.evaluate import read_labelled
from pipeline.errors import ConfigError, UserInputError
from schemas.feedback import Classification


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


@pytest.fixture
def fresh() -> Classifier:
    """A private instance for tests that apply corrections."""
    return Classifier.from_config()


@pytest.mark.parametrize("text, language", [
    ("The zipper broke after two days.", "en"),
    ("质量太差了，用了两天就坏了。", "zh"),
    ("品質太差了，用了三天就壞掉。", "zh"),
    ("这个MacBook保护壳尺寸不对，装不上去。", "zh"),
    ("iPad保護套的磁吸很弱", "zh"),
    ("I love my 小米 phone, works great", "en"),
    ("El producto llegó roto y no funciona.", "other"),
    ("とても良い商品です。", "other"),
    ("Обслуживание ужасное", "other"),
])
def test_language(clf, text, language):
    assert clf.classify(text).language == language


def test_language_hint_decides_when_the_text_cannot(clf):
    assert clf.classify("👍👍", language="zh-Hant").language == "zh"
    assert clf.classify("质量很好", language="en").language == "zh"  # the text wins when it is clear


@pytest.mark.parametrize("text, category", [
    ("The stitching is coming apart after one wash.", "product_quality"),
    ("做工粗糙，线头很多。", "product_quality"),
    ("I was charged $89 but the listed price was $69.", "pricing"),
    ("優惠碼用不了，結帳時沒有折扣。", "pricing"),
    ("My parcel is 10 days late and tracking hasn't updated.", "delivery"),
    ("快递显示已签收，但我根本没有收到。", "delivery"),
    ("The agent was rude and hung up on me.", "service"),
    ("客服態度超差，問了半天都不理人。", "service"),
    ("I returned it three weeks ago and still no refund.", "after_sales"),
    ("退货已经寄回去两周了，还没收到退款。", "after_sales"),
    ("It would be great if the app had a dark mode.", "suggestion"),
    ("建议增加夜间模式。", "suggestion"),
    ("Are you hiring for the summer?", "other"),
    ("请问周日几点开门？", "other"),
])
def test_category(clf, text, category):
    assert clf.classify(text).category == category


@pytest.mark.parametrize("text, sentiment", [
    ("Works great, highly recommend!", "positive"),
    ("Total waste of money, it fell apart.", "negative"),
    ("Not bad at all, the fabric is soft.", "positive"),           # negated negative
    ("No problems so far, quiet and powerful.", "positive"),
    ("Honestly not very good, the cushions sag.", "negative"),     # negated positive + intensifier
    ("Can't say I'm satisfied, the fit is off.", "negative"),
    ("用了一个月都沒有問題，很耐用", "positive"),                    # 沒有問題, traditional
    ("一点问题都没有，非常流畅。", "positive"),
    ("不是很满意，衣服洗一次就掉色了。", "negative"),                # 不是很满意
    ("不是很滿意，尺寸偏小", "negative"),
    ("不好用，还不如以前那个。", "negative"),
    ("Great, another cracked phone case. Just what I needed 🙄", "negative"),  # sarcasm
    ("呵呵，说是正品，用了三天就卡顿死机。", "negative"),
    ("Good price but it broke in a week.", "negative"),              # contrast
    ("Teh lid dosent close properly and it leaks everywhere.", "negative"),  # typos
    ("AMAZING!!! love love love it 😍😍", "positive"),
    ("When will my order ship?", "neutral"),
    ("请问什么时候发货？", "neutral"),
])
def test_sentiment(clf, text, sentiment):
    assert clf.classify(text).sentiment == sentiment


def test_a_weak_lean_takes_its_sign_unless_the_own_model_reads_neutral(clf, config_copy):
    review = clf.classify("It fits in my pocket.")
    assert review.sentiment == "positive" and 0 < review.sentiment_score < 0.15  # in the neutral band
    assert clf.classify("Does it come in blue?").sentiment == "neutral"  # the own model: a question
    _edit(config_copy / "settings.yaml", "neutral_min_probability: 0.3", "neutral_min_probability: 0.0")
    assert Classifier.from_config(config_copy).classify("It fits in my pocket.").sentiment == "neutral"


def test_the_urgency_model_must_be_surer_outside_the_critical_classes(clf, config_copy):
    """P(critical) 0.29 for a refund complaint: between model_critical (0.27) and
    model_critical_elsewhere (0.45), and the category model reads neither harm, fraud nor the law."""
    text = "The refund went back to a card I closed last year and now nobody knows where the money is."
    verdict = clf.classify(text)
    assert verdict.category == "after_sales" and verdict.urgency == "normal"
    _edit(config_copy / "settings.yaml", "critical_class_share: 0.1", "critical_class_share: 0.0")
    ungated = Classifier.from_config(config_copy).classify(text)
    assert ungated.urgency == "critical"
    assert [e["rule"] for e in ungated.evidence if e["field"] == "urgency"] == ["model"]
    # inside the critical classes the lower threshold still holds
    assert clf.classify("Someone placed an order on my account last night.").urgency == "critical"



def test_text_unlike_the_own_set_takes_its_sign_from_the_polarity_model(clf, config_copy):
    """A product review whose n-grams the own models mostly do not know: the own model's share of the
    score goes to the review-trained polarity model (all of it below model_known_zero)."""
    review = "The zoom lens renders landscapes with stunning crispness."
    assert clf._models.read(clf.own_features(review))[1] < 0.4  # model_known_zero
    _edit(config_copy / "settings.yaml", "model_known_full: 0.7", "model_known_full: 0.0")
    off = Classifier.from_config(config_copy)
    shutil.copytree(config_copy, config_copy.parent / "all_polarity")
    everything_moved = config_copy.parent / "all_polarity" / "settings.yaml"
    _edit(everything_moved, "model_weight: 0.4\n", "model_weight: 0.0\n")
    _edit(everything_moved, "polarity_weight: 0.4", "polarity_weight: 0.8")
    moved = Classifier.from_config(config_copy.parent / "all_polarity")
    assert clf.classify(review).sentiment_score == pytest.approx(moved.classify(review).sentiment_score, abs=1e-3)
    assert clf.classify(review).sentiment_score > off.classify(review).sentiment_score + 0.2
    # a message to a seller is known to the own models: nothing moves
    message = "My parcel has not arrived and nobody answers the phone."
    assert clf._models.read(clf.own_features(message))[1] >= 0.7
    assert clf.classify(message).sentiment_score == off.classify(message).sentiment_score


def test_a_weak_lean_on_unfamiliar_text_needs_a_surer_neutral(clf, config_copy):
    """Own model P(neutral) 0.35, half the n-grams unknown to it: neutral at the own set's 0.3, but
    the bar rises towards neutral_min_probability_unknown (0.5) as the own model's share moves."""
    text = "The viewfinder eyepiece is a little small."
    verdict = clf.classify(text)
    assert verdict.sentiment == "negative" and -0.15 < verdict.sentiment_score < 0
    _edit(config_copy / "settings.yaml", "neutral_min_probability_unknown: 0.5", "neutral_min_probability_unknown: 0.3")
    assert Classifier.from_config(config_copy).classify(text).sentiment == "neutral"


def test_the_critical_rules_read_the_score_before_the_move(config_copy):
    """Every message moved wholly to the polarity model (model_known_zero just under 1): the review-
    trained model reads some hazard reports as mild praise, and the critical verdicts must not change."""
    _edit(config_copy / "settings.yaml", "model_known_full: 0.7", "model_known_full: 1.0")
    _edit(config_copy / "settings.yaml", "model_known_zero: 0.4", "model_known_zero: 0.99")
    moved = Classifier.from_config(config_copy)
    _edit(config_copy / "settings.yaml", "model_known_full: 1.0", "model_known_full: 0.0")
    off = Classifier.from_config(config_copy)
    rows = read_labelled(DATA, "test")
    assert sum(moved.classify(r["text"]).sentiment != off.classify(r["text"]).sentiment for r in rows) > 20
    assert [moved.classify(r["text"]).urgency == "critical" for r in rows] == \
        [off.classify(r["text"]).urgency == "critical" for r in rows]

def test_score_is_bounded_and_signed(clf):
    good, bad = clf.classify("Excellent, love it!"), clf.classify("Horrible, broke, don't buy.")
    assert 0 < good.sentiment_score <= 1 and -1 <= bad.sentiment_score < 0


def test_rating_informs_but_does_not_override(clf):
    plain = clf.classify("It's okay, does the job.")
    assert clf.classify("It's okay, does the job.", rating=1).sentiment_score < plain.sentiment_score
    assert clf.classify("Absolutely love it, perfect!", rating=1).sentiment == "positive"


@pytest.mark.parametrize("text, family", [
    # safety, both languages and scripts
    ("The charger caught fire while plugged in!", "safety"),
    ("Smoke came out of the heater, burning smell everywhere.", "safety"),
    ("I got an electric shock from the kettle.", "safety"),
    ("My daughter had an allergic reaction to the cream.", "safety"),
    ("A part broke off and my son started choking on it.", "safety"),
    ("充电器充着电突然着火了", "safety"),
    ("電暖器冒煙，屋裡都是燒焦味", "safety"),
    ("热水壶漏电，我被电了一下", "safety"),
    ("用了面霜之后过敏了", "safety"),
    ("孩子差点噎住", "safety"),
    # legal / regulatory
    ("I've contacted my lawyer about this.", "legal"),
    ("See you in small claims court.", "legal"),
    ("Reporting you to the consumer protection authority.", "legal"),
    ("我已经向12315投诉了", "legal"),
    ("我已經向消委會投訴", "legal"),
    ("再不处理我就找律师起诉你们", "legal"),
    # media / public exposure
    ("Fix this or I'm going to the local news and posting it all over social media.", "media"),
    ("再不解决我就发微博曝光你们！", "media"),
    ("我會聯絡記者，讓傳媒報導你們", "media"),
    # fraud, stolen payment, leaked data
    ("This is fraud, you charged my card for an order I never placed.", "fraud_data"),
    ("My credit card was stolen on your website.", "fraud_data"),
    ("You leaked my personal data.", "fraud_data"),
    ("我的银行卡被盗刷了", "fraud_data"),
    ("你們洩露了我的個人資料", "fraud_data"),
])
def test_critical_families(clf, text, family):
    result = clf.classify(text)
    assert result.urgency == "critical"
    assert any(e["rule"] == f"critical.{family}" for e in result.evidence)


@pytest.mark.parametrize("text", [
    "My Fire TV stick runs smoothly, great picture 🔥",
    "The smoke detector works perfectly, easy to install.",
    "这款火锅底料味道很正，全家都喜欢。",
    "火速发货，东西好评！",
    # "news" is not the plural of "new": the media family's "the news" is not "the new website"
    "The new website layout is confusing, bring back the old menu.",
    # thanks for a blocked fraud is low (labelling guide), though it names the fraud
    "Thank you, your fraud team spotted the scam order on my account and cancelled it. Great service!",
    # a family's word inside a product or a place (urgency.yaml `exclude`)
    "Please quote for 30 fire blankets and 10 fire extinguishers for our school.",
    "The police discount code stopped working at checkout.",
    "我们律师事务所想采购二十把办公椅，麻烦报个价。",
    "建议把过敏原信息写在包装正面，找起来太费劲了。",
])
def test_harmless_lookalikes_are_not_critical(clf, text):
    assert clf.classify(text).urgency != "critical"


def test_the_families_stay_out_of_a_calm_question(clf, config_copy):
    """A precautionary question that names a hazard is high by the labelling guide, not critical;
    a report of the hazard is still critical, and so is a question with the harm in it."""
    question = "Is the heater I bought in March part of the recall? I read they can catch fire."
    assert clf.classify(question).urgency != "critical"
    assert clf.classify("The heater I bought in March caught fire last night.").urgency == "critical"
    assert clf.classify("My heater caught fire last night, is it part of the recall??").urgency == "critical"
    _edit(config_copy / "settings.yaml", "families_on_calm_questions: false", "families_on_calm_questions: true")
    families = Classifier.from_config(config_copy).classify(question)
    assert families.urgency == "critical"
    assert any(e["rule"] == "critical.safety" for e in families.evidence)


@pytest.mark.parametrize("text, asking", [
    ("When will it ship?", True),
    ("什么时候发货？", True),                                        # full width, folded by normalise
    ("They asked for my card at http://acct-check.example/verify?u=5521", False),
    ("Is this yours? http://acct-check.example/verify?u=5521", True),
    ("See www.cheap.example/item?id=5 - half your price", False),
    ("HTTPS://SHOP.EXAMPLE/P?ID=1 copies your site", False),            # lower-cased first
    ("No question here, just http://shop.example/", False),
])
def test_a_question_mark_inside_a_web_address_does_not_ask(text, asking):
    from agents.feedback.text import asks, normalise
    assert asks(normalise(text)) is asking


def test_own_models_read_negation_contrast_and_questions(clf):
    from agents.feedback.lexicon import stem

    assert {"n:" + stem("very"), "n:good"} <= set(clf.own_features("Not very good, honestly."))
    assert "n:good" not in clf.own_features("Not today. Good value though.")  # punctuation ends the reach
    assert "n:满意" in clf.own_features("不是很满意，尺寸偏小")
    assert "c:" + stem("broke") in clf.own_features("Good price but it broke in a week")
    assert "p:?" in clf.own_features("请问什么时候发货？")  # full width, folded
    assert not any(f.startswith(("n:", "c:", "p:")) for f in clf.own_features("Great kettle"))


@pytest.mark.parametrize("text, urgency", [
    ("Cancel my order and refund me immediately, this is unacceptable.", "high"),
    ("Third time this kettle has broken. I want a replacement today.", "high"),
    ("这已经是第三次延迟发货了，今天必须给我一个说法！", "high"),
    ("If I don't get my money back this week I will never buy from you again.", "high"),
    ("再這樣我以後都不會再買了，到現在都沒有人跟進！", "high"),
    ("Our restaurant can't open without the freezer, we are losing money every hour.", "high"),
    ("The parcel is late and tracking hasn't updated.", "normal"),
    ("Can I exchange this for a larger size?", "normal"),
    ("Super fast delivery, thanks!", "low"),
    ("服务态度很好，店员很热情。", "low"),
    ("Please add an option to schedule deliveries on weekends.", "low"),
])
def test_urgency(clf, text, urgency):
    assert clf.classify(text).urgency == urgency


@pytest.mark.parametrize("text", [
    "The charger caught fire!! not bad at all though",
    "不是很滿意，充電器冒煙了，我要找律師",
    "ＦＵＬＬ-width: the kettle is on fire",
    "İstanbul store: burning smell from the heater",
])
def test_evidence_spans_point_at_the_original_text(clf, text):
    result = clf.classify(text)
    spans = [e for e in result.evidence if e["start"] is not None]
    assert spans
    for e in spans:
        assert text[e["start"]:e["end"]] == e["term"]
        assert e["field"] in ("language", "category", "sentiment", "urgency") and e["label"] and e["rule"]


def test_confidence_per_field_and_review_flag(clf):
    sure = clf.classify("The charger caught fire while charging, dangerous!")
    assert set(sure.confidence) == {"language", "category", "sentiment", "urgency"}
    assert all(0 <= v <= 1 for v in sure.confidence.values())
    assert not sure.needs_review
    assert clf.classify("hmm").needs_review
    assert clf.classify("").needs_review


def test_classification_is_frozen(clf):
    result = clf.classify("Great!")
    with pytest.raises(Exception):
        result.category = "pricing"  # type: ignore[misc]


def test_bad_rating_is_a_programming_error(clf):
    with pytest.raises(ValueError):
        clf.classify("fine", rating=7)


# ---------------------------------------------------------------- corrections

def test_correction_overrides_the_same_text(fresh):
    text = "The thingamajig is wobbly."
    fresh.apply_correction(text, category="product_quality", sentiment="negative")
    result = fresh.classify("  the THINGAMAJIG is wobbly!! ")  # same text, normalised
    assert (result.category, result.sentiment) == ("product_quality", "negative")
    assert result.confidence["category"] == 1.0
    assert any(e["rule"] == "correction" for e in result.evidence)


def test_correction_can_set_urgency_and_merges(fresh):
    text = "Please call me about my account."
    fresh.apply_correction(text, urgency="high")
    fresh.apply_correction(text, category="service")
    result = fresh.classify(text)
    assert (result.urgency, result.category) == ("high", "service")


def test_correction_nudges_similar_messages(fresh):
    text = "The frobnicator frobnicates wrongly"
    before = fresh.classify("frobnicator frobnicates wrongly again").confidence
    for _ in range(3):
        fresh.apply_correction(text, category="after_sales")
    after = fresh.classify("frobnicator frobnicates wrongly again")
    assert after.category == "after_sales" or after.confidence["category"] != before["category"]


def test_corrections_round_trip_as_plain_data(fresh):
    fresh.apply_correction("Widget X is meh", sentiment="negative", urgency="normal")
    data = fresh.corrections
    assert data == [{"text": "Widget X is meh", "sentiment": "negative", "urgency": "normal"}]
    other = Classifier.from_config()
    assert other.load_corrections(data) == 1
    assert other.classify("widget x is meh").sentiment == "negative"


@pytest.mark.parametrize("kwargs", [{}, {"category": "pricey"}, {"urgency": "urgent"}])
def test_bad_corrections_are_user_errors(fresh, kwargs):
    with pytest.raises(UserInputError):
        fresh.apply_correction("some text", **kwargs)


def test_default_is_cached():
    assert Classifier.default() is Classifier.default()


# ---------------------------------------------------------------- config validation

@pytest.fixture
def config_copy(tmp_path) -> Path:
    target = tmp_path / "classifier"
    shutil.copytree(default_dir(), target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file, old, new, message", [
    # {line}: the line the edit is on
    ("categories.yaml", "  pricing:\n", "  pricng:\n", "categories.yaml:{line}: categories.pricng"),
    ("settings.yaml", "model_weight: 0.4\n  # polarity_weight", "model_weight: 1.7\n  # polarity_weight",
     "settings.yaml:{line}: sentiment.model_weight"),
    ("settings.yaml", "version: 1", "version: 2", "settings.yaml:{line}: version"),
    ("settings.yaml", "model_known_zero: 0.4", "model_known_zero: 0.7", "settings.yaml:{line}: sentiment.model_known_zero"),
    ("sentiment.yaml", 'en: ["not", "no",', 'en: ["not", no,', "sentiment.yaml:{line}: negators.en.2"),
    ("urgency.yaml", "    requires: not_positive\n", "    requires: sometimes\n",
     "urgency.yaml:{line}: critical.safety.requires"),
    ("urgency.yaml", "patterns: ['", "patterns: ['(unclosed", "is not a valid regular expression"),
    ("urgency.yaml", "critical:\n  safety:", "critical:\n  safety:\n    colour: red", "critical.safety.colour"),
])
def test_config_errors_are_precise(config_copy, file, old, new, message):
    text = (config_copy / file).read_text(encoding="utf-8")
    line = text[:text.index(old)].count("\n") + 1
    _edit(config_copy / file, old, new)
    with pytest.raises(ConfigError) as err:
        Classifier.from_config(config_copy)
    assert message.format(line=line) in str(err.value)


def test_yaml_syntax_errors_name_file_and_line(config_copy):
    _edit(config_copy / "sentiment.yaml", "use_vader_lexicon: true", "use_vader_lexicon: [true")
    with pytest.raises(ConfigError, match=r"sentiment\.yaml:\d+: invalid YAML"):
        Classifier.from_config(config_copy)


def test_boolean_term_gets_a_quoting_hint(config_copy):
    _edit(config_copy / "sentiment.yaml", 'en: ["not", "no",', 'en: ["not", no,')
    with pytest.raises(ConfigError, match="quotes"):
        Classifier.from_config(config_copy)


def test_missing_file_and_directory(config_copy, tmp_path):
    (config_copy / "model.json").unlink()
    with pytest.raises(ConfigError, match="model.json: cannot read: No such file"):
        Classifier.from_config(config_copy)
    with pytest.raises(ConfigError, match="not a directory"):
        Classifier.from_config(tmp_path / "nope")


def test_sales_ops_can_extend_the_lexicon(config_copy):
    _edit(config_copy / "urgency.yaml", 'zh: ["律师",', 'zh: ["打官司吧", "律师",')
    _edit(config_copy / "urgency.yaml", 'en: ["lawyer",', 'en: ["barrister", "lawyer",')
    clf = Classifier.from_config(config_copy)
    assert clf.classify("My barrister will hear about this").urgency == "critical"
    assert clf.classify("那就打官司吧").urgency == "critical"


def _verdict_is_valid(result: Classification) -> None:
    assert Classification.model_validate(result.model_dump()) == result


def test_every_labelled_verdict_validates_to_itself(clf):
    """classify builds its verdict without validating it (the worker validates it once, as the
    feedback.classified record): every verdict on the labelled set must pass the schema unchanged,
    with ratings, language hints and corrections."""
    rows = read_labelled(DATA)
    for r in rows:
        _verdict_is_valid(clf.classify(r["text"], rating=r.get("rating")))
        _verdict_is_valid(clf.classify(r["text"] * 6, language="zh-Hant"))  # long: evidence capped per field


_WORDS = ["refund", "broken", "great", "not", "never", "but", "late", "cheaper at", "ShopFast", "京东", "便宜",
          "退款", "质量", "!!", "fire", "hacked my account", "lawyer", "😡", "👍", "不", "很好", "\x00", "ｆｕｌｌ"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=30)), max_size=40),
       st.one_of(st.none(), st.integers(1, 5)))
def test_any_text_gets_a_valid_verdict(clf, parts, rating):
    _verdict_is_valid(clf.classify(" ".join(parts), rating=rating))


def test_a_corrected_verdict_validates_to_itself(fresh):
    fresh.apply_correction("the lid is loose", category="product_quality", sentiment="negative", urgency="high")
    _verdict_is_valid(fresh.classify("The lid is loose"))


def test_text_no_model_has_read_gets_no_lean_from_the_models(clf):
    """Gibberish: no n-gram is known to any model, so neither the own model's prior nor the polarity
    model's bias (the corpora hold more praise than complaints) may make it positive."""
    from agents.feedback.config import LinearField
    from agents.feedback.model import Polarity

    biased = Polarity(LinearField(classes=["negative", "positive"], bias=[-0.4, 0.4], weights={"w:good": [0.0, 1.0]}))
    assert biased.score(["w:xqzv", "w:blorf"]) == (0.0, []) and biased.score([]) == (0.0, [])
    assert biased.score(["w:good", "w:xqzv"])[0] > 0  # a known n-gram: the bias counts with it
    for text in ("xqzv blorf wumpt", "asdkjh qwpeoiru zmxncb"):
        verdict = clf.classify(text)
        assert verdict.sentiment == "neutral" and verdict.needs_review, verdict


def test_a_question_mark_inside_a_web_address_is_no_question_to_the_models(clf):
    """The own models' `p:?` marker follows `text.asks`, as the rules do: a phishing report quoting
    a link with a query string is a report, not a question."""
    from agents.feedback.model import markers
    from agents.feedback.text import normalise

    def marks(text: str) -> list[str]:
        norm = normalise(text)
        return markers(norm, *clf._lex.scan(norm))

    assert "p:?" not in marks("I got a text from you with http://shop-verify.example/login?id=7 and they took my money")
    assert "p:?" in marks("Is http://shop-verify.example/login?id=7 really yours?")
    assert "p:?" in marks("请问什么时候发货？")
