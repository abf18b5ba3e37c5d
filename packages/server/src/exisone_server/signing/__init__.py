"""Signed answers: the server signs validate/activate/deactivate answers when asked by a nonce.

See docs/signed-answers.md and ``exisone._answer_signature`` (the shared canonical string).
"""

from .middleware import AnswerSigningMiddleware, answer_signing

__all__ = ["AnswerSigningMiddleware", "answer_signing"]
