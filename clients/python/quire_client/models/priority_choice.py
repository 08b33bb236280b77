from enum import StrEnum

class PriorityChoice(StrEnum):
    BULK = "bulk"
    HIGH = "high"
    LOW = "low"
    NORMAL = "normal"

    def __str__(self) -> str:
        return str(self.value)
