from enum import StrEnum

class Priority(StrEnum):
    BULK = "bulk"
    HIGH = "high"
    LOW = "low"
    NORMAL = "normal"
    NOTIFICATION = "notification"
    SYSTEM = "system"

    def __str__(self) -> str:
        return str(self.value)
