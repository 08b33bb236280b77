from enum import StrEnum

class FieldType(StrEnum):
    DATE = "date"
    IMAGE = "image"
    NUMBER = "number"
    TEXT = "text"

    def __str__(self) -> str:
        return str(self.value)
