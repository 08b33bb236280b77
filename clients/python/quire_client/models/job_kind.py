from enum import StrEnum

class JobKind(StrEnum):
    BUNDLE = "bundle"
    CERTIFICATE = "certificate"
    EMAIL = "email"
    MAINTENANCE = "maintenance"
    REPORT = "report"
    WEBHOOK = "webhook"

    def __str__(self) -> str:
        return str(self.value)
