"""The error every malformed or unreadable bprop file raises."""

from __future__ import annotations

__all__ = ["ModelFileError"]

#: The longest problem text a ModelFileError shows (a hostile value quoted in it is cut).
MAX_PROBLEM_CHARS = 400


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be read or fails validation.

    The message is one line, ``"<path>: <problem>"``: whitespace (newlines included) in
    the problem is collapsed and a problem longer than :data:`MAX_PROBLEM_CHARS` is cut.
    """

    def __init__(self, path: object, problem: str) -> None:
        problem = " ".join(str(problem).split())
        if len(problem) > MAX_PROBLEM_CHARS:
            problem = problem[: MAX_PROBLEM_CHARS - 3] + "..."
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
