"""What each stage of the generation stream needs and adds (prompts -> generation -> parsing): column contracts
checked on every batch a stage receives, so that a missing column is one error naming the stage and the column,
not a KeyError deep in a Ray worker. The names come from the typed rows (prompts.compose.PromptRow,
parsing.checker.CONTEXT_FIELDS, generation.rows: ParsedRow, REPLY_COLUMNS), never from a fourth list."""

from __future__ import annotations

from dataclasses import dataclass

from clingen.errors import ClinGenError
from clingen.generation.rows import PARSED_COLUMNS, REPLY_COLUMNS
from clingen.parsing.checker import CONTEXT_FIELDS
from clingen.prompts.compose import PROMPT_COLUMNS

# The columns a second step adds to a prompt row (SecondStepPrompts): the first step's outcome carried along.
SECOND_STEP_COLUMNS = ("prior_prompt_tokens", "prior_completion_tokens", "prior_failures", "prior_generation_error",
                       "sentence_a", "prior_record", "placeholder")


class StageInputError(ClinGenError):
    """A stage received a batch without a column it needs: the stream is wired wrong (a bug, or a backend whose
    replies lack a column)."""


@dataclass(frozen=True)
class StageContract:
    stage: str
    requires: tuple[str, ...]
    adds: tuple[str, ...]

    def check(self, batch) -> None:
        """Raise StageInputError naming the stage and every required column `batch` lacks (a dict of columns, a
        pyarrow Table or a pandas DataFrame)."""
        present = set(batch.column_names if hasattr(batch, "column_names") else batch.keys())
        missing = [name for name in self.requires if name not in present]
        if missing:
            raise StageInputError(f"stage {self.stage} received a batch without column(s) {', '.join(missing)}; "
                                  f"it needs {', '.join(self.requires)} and got {', '.join(sorted(present)) or 'none'}")


COMPOSE = StageContract("ComposePrompts", requires=("id",), adds=PROMPT_COLUMNS)
# Every backend (vLLM's processor, the HTTP stage, the Serve stage) turns prompt rows into reply rows; a row
# without json_schema is asked for free text, as one whose json_schema is None.
GENERATE = StageContract("generator", requires=("row_id", "messages"), adds=REPLY_COLUMNS)
# The reply is checked against the prompt's context; the token counts and finish reason may be absent (a backend
# that reports none), the text may not.
PARSE = StageContract("ParseReplies", requires=(*CONTEXT_FIELDS, "generated_text"), adds=PARSED_COLUMNS)
SECOND_STEP = StageContract("SecondStepPrompts", requires=(*PROMPT_COLUMNS, *PARSED_COLUMNS),
                            adds=SECOND_STEP_COLUMNS)
