"""(being written)"""


class DerivePoolMixin:
    """Pool methods of this part."""


DERIVE_CLASSES = {}
