"""(being written)"""


class NdPoolMixin:
    """Pool methods of this part."""


ND_CLASSES = {}
