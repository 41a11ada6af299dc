"""The Feast definitions of the active use case (``DRIFTLOOP_USECASE``), for ``feast apply`` and driftloop alike.

Each use case declares its Feast objects in its own folder (``[feast] definitions`` in its ``usecase.toml``); this
module imports that file afresh and exposes its objects here, where Feast looks for them.
"""

from driftloop.usecase.feast_objects import active_definitions

globals().update(active_definitions())
