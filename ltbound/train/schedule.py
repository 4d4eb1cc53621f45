"""Old home of the recipes and schedules: they live in the torch-free :mod:`ltbound.schedule`.

Kept so that ``from ltbound.train.schedule import PRESETS, get_schedule, lr_at`` still works.
"""

from ..schedule import *                      # noqa: F401,F403
from ..schedule import __all__                # noqa: F401
