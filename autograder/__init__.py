"""rlgrade: the autograder of the representation-learning course exercises.

Library entry points: :func:`grade` (one hand-in), :func:`validate` (prove an
assignment's references, templates and mutants), :func:`calibrate` (bands).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
