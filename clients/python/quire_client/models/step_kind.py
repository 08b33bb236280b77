from enum import StrEnum

class StepKind(StrEnum):
    ARCHIVE = "archive"
    BATCH = "batch"
    CERTIFICATE = "certificate"
    EMAIL = "email"
    MERGE = "merge"
    REPORT = "report"

    def __str__(self) -> str:
        return str(self.value)
