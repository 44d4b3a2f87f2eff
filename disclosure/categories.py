"""处罚类别: the kinds of administrative penalty of 行政处罚法 (2021) Art. 9, and older labels."""

from __future__ import annotations

import functools
import re

# Art. 9, in the order of the article.
ARTICLE_9 = (
    "警告",
    "通报批评",
    "罚款",
    "没收违法所得",
    "没收非法财物",
    "暂扣许可证件",
    "降低资质等级",
    "吊销许可证件",
    "限制开展生产经营活动",
    "责令停产停业",
    "责令关闭",
    "限制从业",
    "行政拘留",
    "其他行政处罚",
)

# Labels of the 1996 law (Art. 8) and common short forms, to Art. 9 labels.
OLDER = {
    "暂扣许可证": "暂扣许可证件",
    "暂扣执照": "暂扣许可证件",
    "暂扣证照": "暂扣许可证件",
    "吊销许可证": "吊销许可证件",
    "吊销执照": "吊销许可证件",
    "吊销证照": "吊销许可证件",
    "吊销营业执照": "吊销许可证件",
    "其他": "其他行政处罚",
    "法律、行政法规规定的其他行政处罚": "其他行政处罚",
    "没收违法所得、没收非法财物": "没收违法所得;没收非法财物",
}
# "暂扣或者吊销许可证、暂扣或者吊销执照" (1996) names two kinds at once: the content says which.
_EITHER = re.compile(r"暂扣或(?:者)?吊销(?:许可证|执照|证照)")
_SEPARATORS = re.compile(r"[;；,，、/\s]+")
_NUMBERING = re.compile(r"^[（(]?[一二三四五六七八九十\d]+[)）、.]")


class CategoryError(ValueError):
    """A 处罚类别 that is not a kind of penalty of Art. 9 (or of the 1996 law)."""

    def __init__(self, label: str, zh: str | None = None, en: str | None = None) -> None:
        super().__init__(label)
        self.zh = zh or f"「{label}」不是行政处罚法第九条规定的处罚种类"
        self.en = en or f"{label!r} is not a kind of penalty of 行政处罚法 Art. 9"


def penalty_categories(text: str, content: str = "") -> list[str]:
    """The Art. 9 labels of a 处罚类别 cell, in the article's order, without repeats.

    `content` (处罚内容) decides an older "暂扣或者吊销…" label: what it says was done.
    """
    if _EITHER.search(text):
        text = _EITHER.sub(_suspended_or_revoked(text, content), text)
    return list(_labels(text))


@functools.lru_cache(maxsize=4096)  # a file repeats a few dozen labels over all its rows
def _labels(text: str) -> tuple[str, ...]:
    for older, current in OLDER.items():
        if "、" in older:
            text = text.replace(older, current)
    found = set()
    for part in _SEPARATORS.split(text):
        label = _NUMBERING.sub("", part.strip())
        if not label:
            continue
        label = OLDER.get(label, label)
        for single in label.split(";"):
            if single not in ARTICLE_9:
                raise CategoryError(single)
            found.add(single)
    if not found:
        raise CategoryError(text)
    return tuple(label for label in ARTICLE_9 if label in found)


def _suspended_or_revoked(text: str, content: str) -> str:
    """暂扣, 吊销 or both, as the content says beyond quoting the older label itself."""
    said = _EITHER.sub("", content)
    done = [
        label
        for word, label in (("暂扣", "暂扣许可证件"), ("吊销", "吊销许可证件"))
        if word in said
    ]
    if not done:
        raise CategoryError(
            text,
            f"「{text}」须在处罚内容中写明是暂扣还是吊销",
            f"{text!r} needs the penalty content to say whether the licence was suspended "
            "(暂扣) or revoked (吊销)",
        )
    return ";".join(done)
