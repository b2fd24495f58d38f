"""(being written)"""


class MdmsPoolMixin:
    """Pool methods of this part."""


MDMS_CLASSES = {}
