"""Signed answers: the server signs validate/activate/deactivate answers when asked by a nonce.

See docs/resilience.md, docs/protocol.md and ``exisone.protocol`` (the shared canonical string).
"""

from .middleware import AnswerSigningMiddleware, answer_signing

__all__ = ["AnswerSigningMiddleware", "answer_signing"]
