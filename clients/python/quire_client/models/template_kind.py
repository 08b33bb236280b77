from enum import StrEnum

class TemplateKind(StrEnum):
    CERTIFICATE = "certificate"
    REPORT = "report"

    def __str__(self) -> str:
        return str(self.value)
