"""(being written)"""


class DatasetPoolMixin:
    """Pool methods of this part."""


DATASET_CLASSES = {}
