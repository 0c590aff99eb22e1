"""Person names without an NER model, honestly bounded.

Without a model a name is only recognised where the text says it is one:

* a key that holds a name in JSON, YAML, logs or key=value text (``"first_name": "Ada"``,
  ``customer=Ada Lovelace``, ``姓名：张伟``) - ``NameKeyRecognizer``;
* a phrase that introduces a name in prose (``my name is``, ``Dear``, ``Mr.``, ``我叫``,
  a Chinese surname followed by 先生/女士) - ``NameCueRecognizer``.

Names in CSV columns are found from the header by ``detectors.pii.records``. A bare name in
running prose ("Ada met Grace") needs a spaCy model (``PiiConfig.spacy_model``).
"""

from __future__ import annotations

import re

from detectors.pii.light_imports import ENGLISH_STOP_WORDS as STOP_WORDS, Pattern, PatternRecognizer

from detectors.pii.gazetteers import load_gazetteers


# Most common Chinese surnames (covering roughly 85 % of the population) plus common compound ones.
CHINESE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "司徒", "夏侯")

# Latin-script names, accents and all (``Zlata Kováčová``, ``Heiðbrá Jónasdóttir``).
_LATIN_WORD = r"\p{Lu}[\p{Ll}\p{M}]+(?:[-'’]\p{Lu}?[\p{Ll}\p{M}]+)?"
_LATIN_NAME = _LATIN_WORD + r"(?:\s" + _LATIN_WORD + r"){0,2}"
# The first byte of a capital in UTF-8: ASCII, or the lead byte of a Latin letter outside it.
_CAPITAL_BYTE = r"[A-Z\xc3-\xc9]"
_CHINESE_NAME = "(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + CHINESE_SURNAMES + "])[\u4e00-\u9fff]{1,2}"
_NAME_KEYS = (
    r"(?:full|first|last|given|family|middle|display|customer|client|contact|patient|employee|user|"
    r"account|holder|card_?holder|recipient|sender|owner|person|emergency_contact)?[_\- ]?name|"
    r"surname|customer|patient|employee|recipient|cardholder|contact|"
    r"姓名|名字|联系人|收件人|收货人|客户|患者|持卡人|户名|員工|员工"
)
_CASE_SENSITIVE = re.DOTALL | re.MULTILINE
# Values after a name key in code and API documentation that are literals, type names or the
# words that open a description ("The Redis command name"; beyond spaCy's English stop words; not the gazetteers' common words, which hold Ada).
_NOT_NAMES = frozenset(
    """
    none null nil true false undefined nan optional required literal union any unique whether
    name names updated human str string int integer bool boolean list dict tuple object type
    default deprecated returns return specifies specify sets set gets get defaults
    the a an this that these those its their our your
    """.split()
)


class NameKeyRecognizer(PatternRecognizer):
    """A name as the value of a key that says it holds one."""

    ENTITY = "PERSON"
    # The key caseless, as in the patterns; then the value's first letter: a capital, or the
    # lead byte of a CJK character (hyperscan reads UTF-8 bytes).
    ANCHOR = (
        r"(?i:name|customer|patient|employee|recipient|contact|holder)[\"']?\s*(?:[:=]|：)\s*[\"']?(?:" + _CAPITAL_BYTE + r"|[\xe0-\xef])"
        r"|姓名|名字|联系人|收件人|收货人|客户|患者|持卡人|户名|员工|員工"
    )
    PATTERNS = [
        Pattern(
            "name_key_latin",
            r"(?<=(?:(?<![A-Za-z])|(?<=\\[nt]))(?i:" + _NAME_KEYS + r")[\"']?\s*[:=]\s*[\"']?)" + _LATIN_NAME + r"(?![\p{L}\p{M}])",
            0.7,
        ),
        Pattern(
            "name_key_chinese",
            r"(?<=(?i:" + _NAME_KEYS + r")[\"']?\s*[:=：]\s*[\"']?)" + _CHINESE_NAME + r"(?![\u4e00-\u9fff])",
            0.7,
        ),
    ]
    SAMPLES = {
        "valid": ['{"first_name": "Ada", "last_name": "Lovelace"}', "customer=Grace Hopper", "姓名：张伟，电话"],
        "invalid": [
            '{"name": "config.yaml"}', "name = request.args", 'user_name: "admin"', "name=None",
            "name: Optional[str]", "name: The name of the queue.",
        ],
    }

    def __init__(self) -> None:
        super().__init__(supported_entity=self.ENTITY, patterns=self.PATTERNS, global_regex_flags=_CASE_SENSITIVE)

    def invalidate_result(self, pattern_text: str) -> bool:
        """A value that opens with an English word, a literal or a type name is a description
        or a default, not a name: ``name=None``, ``name: Optional[str]``, ``name: The queue``."""
        words = pattern_text.split()
        if not words:
            return False
        first = words[0].lower()
        if first in _NOT_NAMES:
            return True
        # "Will Smith" is a name although "will" is a stop word; "Ada" alone although Ada is
        # also a language; "Menu", "Frame" and "Final" alone are not.
        lists = load_gazetteers()
        return len(words) == 1 and (first in STOP_WORDS or (first in lists.common_words and words[0] not in lists.first_names))


class NameCueRecognizer(PatternRecognizer):
    """A name right after a phrase that introduces one."""

    ENTITY = "PERSON"
    _LATIN_CUES = (
        r"(?i:my name is|my name's|i am called|name is|dear|"
        r"mr\.?|mrs\.?|ms\.?|miss|dr\.?|prof\.?|sincerely,?|regards,?|signed,?|attn:?|c/o)"
    )
    _CHINESE_CUES = "我叫|我是|名叫|叫做|联系人|收件人|收货人|患者|客户|经办人|负责人|签名"
    _TITLES = "先生|女士|小姐|老师|经理|医生|律师|同学|总|教授"
    # A Latin cue counts only before a capital letter, as the pattern wants it.
    ANCHOR = (
        r"\b(?i:name is|name's|called|dear|mrs?|ms|miss|dr|prof|sincerely|regards|signed|attn|c/o)[.,:]?\s{1,3}" + _CAPITAL_BYTE + "|"
        + _CHINESE_CUES + "|" + _TITLES
    )
    PATTERNS = [
        Pattern("name_cue_latin", r"(?<=(?<![A-Za-z])" + _LATIN_CUES + r"\s{1,3})" + _LATIN_NAME + r"(?![\p{L}\p{M}])", 0.6),
        Pattern("name_cue_chinese", r"(?<=(?:" + _CHINESE_CUES + r")[:：]?\s?)" + _CHINESE_NAME, 0.6),
        Pattern("name_title_chinese", r"(?:" + "|".join(COMPOUND_SURNAMES) + "|[" + CHINESE_SURNAMES + r"])[\u4e00-\u9fff]?(?=" + _TITLES + ")", 0.4),
    ]
    SAMPLES = {
        "valid": ["Hi, my name is Ada Lovelace.", "Dear Grace,", "我叫王小明，", "请联系张先生"],
        "invalid": ["my name is important", "This is the way", "dear reader"],
    }

    def __init__(self) -> None:
        super().__init__(supported_entity=self.ENTITY, patterns=self.PATTERNS, global_regex_flags=_CASE_SENSITIVE)


def name_recognizers() -> list[PatternRecognizer]:
    return [NameKeyRecognizer(), NameCueRecognizer()]
